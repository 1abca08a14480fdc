"use strict";
// The title view: fetches /api/titles/{isbn} and draws the history, the endpoint's forecast
// (chart and table), the backtest (metrics and the selected family's forecasts) and the monitored
// accuracy. Every number shown in a table carries its exact value in `data-value`; chart
// traces are named by `meta`.
(() => {
  // The forecast's interval levels and quantile columns are the server's (the settings'
  // `serving.levels` and `serving.quantiles`, on the page: 80,95 and p10,p50,p90); the monitored
  // weeks carry the bands monitoring records (monitoring.comparison).
  const LEVELS = (document.body.dataset.levels || "").split(",").filter(Boolean).map(Number);
  const QUANTILES = (document.body.dataset.quantiles || "").split(",").filter(Boolean);
  const QUANTILE_BAND = "rgba(255, 127, 14, 0.15)";
  const MONITORED = [80, 95];
  const band = (level) => {
    const rank = LEVELS.length > 1 ? LEVELS.indexOf(level) / (LEVELS.length - 1) : 0;
    return `rgba(31, 119, 180, ${(0.3 - 0.16 * rank).toFixed(2)})`;
  };
  const HISTORY_SHOWN = 156; // weeks of history in the chart's initial range
  const search = document.getElementById("title-search");
  if (!search) return;
  const listed = [...document.querySelectorAll("#title-options option")];
  const options = listed.map((o) => ({ isbn: o.value, title: o.textContent.trim() }));
  const byId = (id) => document.getElementById(id);
  const segmentFilter = byId("segment-filter");

  // The segment filter narrows the titles offered while typing (a title typed in full, or an
  // ISBN, is still shown whatever its segment).
  function filterTitles() {
    const wanted = segmentFilter.value;
    byId("title-options").replaceChildren(
      ...listed.filter((o) => !wanted || o.dataset.segment === wanted),
    );
  }
  let latest = 0; // the newest request: answers to older ones are dropped

  function isbnFor(text) {
    const value = text.trim();
    const digits = value.replace(/[-\s]/g, "");
    if (/^\d{13}$/.test(digits)) return digits;
    const lower = value.toLowerCase();
    const exact = options.find((o) => o.title.toLowerCase() === lower);
    if (exact) return exact.isbn;
    const partial = options.filter((o) => o.title.toLowerCase().includes(lower));
    return partial.length === 1 ? partial[0].isbn : null;
  }

  function format(value, digits = 0) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString("en-GB", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  }

  function element(tag, text, attributes = {}) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  }

  function numberCell(value, testid, digits = 0) {
    const attributes = { "data-testid": testid, class: "number" };
    if (value !== null && value !== undefined) attributes["data-value"] = String(value);
    return element("td", format(value, digits), attributes);
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) {
      const error = body.error || {};
      throw new Error(`${error.field || response.status}: ${error.reason || response.statusText}`);
    }
    return body;
  }

  async function show(text) {
    const detail = byId("title-detail");
    const problem = byId("title-problem");
    const isbn = isbnFor(text);
    problem.hidden = true;
    if (!isbn) {
      const shown = JSON.stringify(text.trim());
      problem.textContent = `No single title matches ${shown}: pick one from the list.`;
      problem.hidden = false;
      return;
    }
    detail.dataset.state = "loading";
    const request = ++latest;
    try {
      const title = await getJSON(`/api/titles/${encodeURIComponent(isbn)}`);
      if (request !== latest) return;
      detail.hidden = false; // before drawing, so that the chart takes the page's width
      render(title);
      detail.dataset.isbn = title.isbn;
      detail.dataset.forecast = title.forecast.available ? "available" : "unavailable";
      detail.dataset.state = "ready";
      history.replaceState(null, "", `?isbn=${title.isbn}`);
    } catch (error) {
      if (request !== latest) return;
      problem.textContent = `Cannot show ${isbn}: ${error.message}`;
      problem.hidden = false;
      detail.hidden = true;
      detail.dataset.state = "error";
    }
  }

  function render(title) {
    byId("title-heading").textContent = `${title.title || "(untitled)"} · ${title.isbn}`;
    const facts = byId("title-facts");
    facts.replaceChildren();
    const forecast = title.forecast;
    const answered = forecast.available
      ? `${forecast.model_name} v${forecast.model_version} ` +
        `(deployed model ${forecast.deployed_model_id ?? "–"})`
      : "–";
    for (const [name, value] of [
      ["author", title.author || "–"],
      ["release", `${title.release_id}: ${title.model_name} v${title.model_version}`],
      ["model family", title.model_family],
      ["segment", segmentText(title.segment_detail)],
      ["forecast by", answered],
      ["history", historySpan(title.history)],
    ]) {
      facts.append(element("dt", name), element("dd", value));
    }
    const status = byId("forecast-status");
    status.textContent = forecast.available
      ? `${forecast.weeks.length} weeks forecast by endpoint ${title.endpoint}`
      : forecast.reason;
    status.className = forecast.available ? "ok" : "problem down";
    renderTable(forecast);
    renderChart(title);
    renderBacktest(title.backtest);
    renderAccuracy(title.accuracy);
  }

  function segmentText(segment) {
    const figures = [`${segment.weeks} weeks since the first sale`];
    if (segment.weeks_since_sale !== null) {
      figures.push(`${segment.weeks_since_sale} since the last`);
    }
    if (segment.adi !== null) figures.push(`ADI ${format(segment.adi, 2)}`);
    if (segment.cv2 !== null) figures.push(`CV² ${format(segment.cv2, 2)}`);
    return `${segment.name} (${figures.join(", ")})`;
  }

  function historySpan(history) {
    return `${history.week_ending.length} weeks to ${history.week_ending.at(-1)}`;
  }

  function renderTable(forecast) {
    const body = byId("forecast-table").tBodies[0];
    body.replaceChildren();
    byId("forecast-block").hidden = !forecast.available;
    if (!forecast.available) return;
    for (const week of forecast.weeks) {
      const row = element("tr", null, {
        "data-testid": "forecast-week",
        "data-week-ending": week.week_ending,
      });
      row.append(element("td", week.week_ending, { "data-testid": "week_ending" }));
      row.append(numberCell(week.mean, "mean"));
      for (const level of LEVELS) {
        row.append(numberCell(week[`lo_${level}`], `lo_${level}`));
        row.append(numberCell(week[`hi_${level}`], `hi_${level}`));
      }
      for (const quantile of QUANTILES) row.append(numberCell(week[quantile], quantile));
      body.append(row);
    }
  }

  function addWeeks(isoDate, weeks) {
    const day = new Date(`${isoDate}T00:00:00Z`);
    day.setUTCDate(day.getUTCDate() + 7 * weeks);
    return day.toISOString().slice(0, 10);
  }

  function renderChart(title) {
    if (typeof Plotly === "undefined") return;
    const history = title.history;
    const traces = [
      {
        meta: "history",
        name: "history",
        x: history.week_ending,
        y: history.volume,
        mode: "lines",
        line: { color: "#4d4d4d", width: 1.5 },
      },
    ];
    const forecast = title.forecast;
    let end = history.week_ending.at(-1);
    if (forecast.available) {
      const x = forecast.weeks.map((w) => w.week_ending);
      end = x.at(-1);
      for (const level of [...LEVELS].reverse()) {
        const line = { width: 0, color: band(level) };
        traces.push({
          meta: `lo_${level}`,
          name: `${level}% low`,
          x,
          y: forecast.weeks.map((w) => w[`lo_${level}`]),
          mode: "lines",
          line,
          showlegend: false,
        });
        traces.push({
          meta: `hi_${level}`,
          name: `${level}% interval`,
          x,
          y: forecast.weeks.map((w) => w[`hi_${level}`]),
          mode: "lines",
          line,
          fill: "tonexty",
          fillcolor: band(level),
        });
      }
      traces.push(...quantileTraces(forecast, x));
      traces.push({
        meta: "forecast",
        name: "forecast (mean)",
        x,
        y: forecast.weeks.map((w) => w.mean),
        mode: "lines+markers",
        marker: { size: 4 },
        line: { color: "#1f77b4", width: 2 },
      });
    }
    traces.push(...storedForecastTraces(title.backtest));
    traces.push(...accuracyTraces(title.accuracy));
    const start = history.week_ending[Math.max(0, history.week_ending.length - HISTORY_SHOWN)];
    const layout = {
      margin: { t: 30, r: 10, b: 40, l: 60 },
      height: 420,
      hovermode: "x unified",
      xaxis: { range: [start, end], type: "date" },
      yaxis: { title: { text: "units per week" }, rangemode: "tozero" },
      legend: { orientation: "h", y: 1.08 },
      shapes: backtestShapes(title),
    };
    Plotly.react("forecast-chart", traces, layout, { responsive: true, displaylogo: false });
  }

  // The quantiles as dotted lines, the band between the outermost two (p10-p90) filled: the
  // lowest is drawn first and the highest fills down to it ("tonexty"), then those between.
  function quantileTraces(forecast, x) {
    const trace = (quantile, more = {}) => ({
      meta: quantile,
      name: quantile,
      x,
      y: forecast.weeks.map((w) => w[quantile]),
      mode: "lines",
      line: { color: "#ff7f0e", width: 1, dash: "dot" },
      ...more,
    });
    if (QUANTILES.length < 2) return QUANTILES.map((q) => trace(q));
    const low = QUANTILES[0];
    const high = QUANTILES.at(-1);
    return [
      trace(low, { showlegend: false }),
      trace(high, { name: `${low}-${high}`, fill: "tonexty", fillcolor: QUANTILE_BAND }),
      ...QUANTILES.slice(1, -1).map((q) => trace(q, { showlegend: false })),
    ];
  }

  // The selected family's forecasts stored in the bundle: one dashed line per backtest origin, and
  // the holdout forecast; their 80% intervals show on hover.
  function storedForecastTraces(backtest) {
    const trace = (meta, forecast, line) => ({
      meta,
      name: meta,
      x: forecast.week_ending,
      y: forecast.mean,
      customdata: forecast.mean.map((_, i) => [forecast.lo_80?.[i], forecast.hi_80?.[i]]),
      hovertemplate: "%{y:,.0f} (80%: %{customdata[0]:,.0f}–%{customdata[1]:,.0f})",
      mode: "lines",
      line,
    });
    const traces = (backtest.forecasts || []).map((f) =>
      trace(`backtest ${f.origin}`, f, { dash: "dash", width: 1.5 }),
    );
    if (backtest.holdout_forecast) {
      const line = { dash: "dash", width: 2, color: "#9467bd" };
      traces.push(trace("holdout forecast", backtest.holdout_forecast, line));
    }
    return traces;
  }

  function backtestShapes(title) {
    const backtest = title.backtest;
    const weeks = title.history.week_ending;
    const shade = (x0, x1, text) => ({
      type: "rect",
      xref: "x",
      yref: "paper",
      x0,
      x1,
      y0: 0,
      y1: 1,
      fillcolor: "rgba(120, 120, 120, 0.06)",
      line: { width: 1, color: "rgba(120, 120, 120, 0.5)", dash: "dot" },
      label: { text, textposition: "top left", font: { size: 10, color: "#777" } },
    });
    const shapes = (backtest.origins || []).map((origin, i) =>
      shade(origin, addWeeks(origin, backtest.horizon || 0), `backtest ${i + 1}`),
    );
    if (backtest.holdout_weeks && backtest.holdout_weeks < weeks.length) {
      shapes.push(shade(weeks.at(-backtest.holdout_weeks - 1), weeks.at(-1), "holdout"));
    }
    return shapes;
  }

  // Metric columns of the bundle's evaluation: key, heading, decimals (WAPE and coverage in %).
  const METRICS = [
    ["mase", "MASE", 3],
    ["wape", "WAPE %", 1],
    ["mae", "MAE", 1],
    ["bias", "bias", 1],
    ["coverage_80", "80% coverage %", 1],
    ["coverage_95", "95% coverage %", 1],
  ];

  function metricsTable(rows, selected, testid) {
    const table = element("table", null, { "data-testid": testid });
    const head = element("tr");
    const headings = METRICS.map(([, heading]) => element("th", heading));
    head.append(element("th", "candidate"), ...headings);
    table.appendChild(element("thead")).append(head);
    const body = table.appendChild(element("tbody"));
    for (const row of rows) {
      const tr = element("tr", null, { "data-candidate": row.candidate });
      if (row.candidate === selected) tr.className = "selected";
      tr.append(element("td", row.candidate + (row.candidate === selected ? " (selected)" : "")));
      for (const [key, , digits] of METRICS) tr.append(numberCell(row[key], key, digits));
      body.append(tr);
    }
    return table;
  }

  function renderBacktest(backtest) {
    const box = byId("backtest");
    box.replaceChildren();
    if (!backtest.metrics.length) {
      box.append(element("p", "The bundle records no backtest for this title."));
    } else {
      const origins = backtest.origins.join(", ");
      box.append(
        element(
          "p",
          `Mean over ${backtest.origins.length} rolling ` +
            `origin${backtest.origins.length === 1 ? "" : "s"} (${origins}), ` +
            `${backtest.horizon} weeks ahead each, on the training window:`,
        ),
        metricsTable(backtest.metrics, backtest.selected, "backtest-metrics"),
      );
    }
    if (backtest.holdout.length) {
      box.append(
        element("p", `Held-out last ${backtest.holdout_weeks} weeks, fitted before them:`),
        metricsTable(backtest.holdout, backtest.selected, "holdout-metrics"),
      );
    }
    for (const [candidate, reason] of Object.entries(backtest.failures)) {
      box.append(element("p", `${candidate} could not be backtested: ${reason}`));
    }
    if (backtest.fallback) box.append(element("p", `Fallback: ${backtest.fallback}`));
  }

  function accuracyTraces(accuracy) {
    const weeks = accuracy.weeks;
    if (!weeks.length) return [];
    const x = weeks.map((w) => w.week_ending);
    return [
      {
        meta: "past_forecast",
        name: "forecast at the time (95%)",
        x,
        y: weeks.map((w) => w.mean),
        mode: "markers",
        marker: { color: "#ff7f0e", size: 7, symbol: "x" },
        error_y: {
          type: "data",
          symmetric: false,
          array: weeks.map((w) => w.hi_95 - w.mean),
          arrayminus: weeks.map((w) => w.mean - w.lo_95),
          color: "rgba(255, 127, 14, 0.5)",
        },
      },
      {
        meta: "actual",
        name: "actual sales",
        x,
        y: weeks.map((w) => w.actual),
        mode: "markers",
        marker: { color: "#d62728", size: 7 },
      },
    ];
  }

  function renderAccuracy(accuracy) {
    const box = byId("accuracy");
    box.replaceChildren();
    if (accuracy.reason) {
      box.append(element("p", accuracy.reason, { class: "problem" }));
      return;
    }
    const report = accuracy.report;
    for (const alert of report ? report.alerts : []) {
      box.append(
        element("div", `${alert.rule}: ${alert.message} Action: ${alert.action}.`, {
          class: "alert",
          "data-testid": "title-alert",
        }),
      );
    }
    if (!accuracy.weeks.length) {
      const text = accuracy.actual_weeks
        ? `${accuracy.actual_weeks} actual weeks stored, none of them forecast by a release.`
        : "No actual weeks after training yet (`shelfcast monitor actuals`).";
      box.append(element("p", text));
      return;
    }
    const f = accuracy.figures;
    box.append(
      element(
        "p",
        `${f.weeks} weeks compared: WAPE ${format(f.wape, 1)}%, MASE ${format(f.mase, 3)} ` +
          `(backtest ${format(f.expected_mase, 3)}), bias ${format(f.bias, 2)}, ` +
          `80% coverage ${format(f.coverage_80, 0)}%, 95% coverage ${format(f.coverage_95, 0)}%.`,
        { "data-testid": "accuracy-figures" },
      ),
    );
    const table = element("table", null, { "data-testid": "accuracy-table" });
    const head = element("tr");
    for (const name of ["week ending", "actual", "forecast", "80% interval", "95% interval",
      "weeks ahead", "release"]) {
      head.append(element("th", name));
    }
    table.appendChild(element("thead")).append(head);
    const body = table.appendChild(element("tbody"));
    for (const w of accuracy.weeks) {
      const row = element("tr", null, {
        "data-testid": "accuracy-week",
        "data-week-ending": w.week_ending,
      });
      row.append(element("td", w.week_ending));
      row.append(numberCell(w.actual, "actual"), numberCell(w.mean, "mean"));
      for (const level of MONITORED) {
        const lo = w[`lo_${level}`];
        const hi = w[`hi_${level}`];
        const inside = w.actual >= lo && w.actual <= hi;
        row.append(element("td", `${format(lo)} – ${format(hi)}`, {
          class: inside ? "number" : "number outside",
          "data-testid": `interval_${level}`,
        }));
      }
      row.append(element("td", String(w.horizon), { class: "number" }));
      row.append(element("td", `${w.release_id} v${w.model_version}`));
      body.append(row);
    }
    box.append(table);
  }

  if (segmentFilter) segmentFilter.addEventListener("change", filterTitles);
  search.addEventListener("change", () => show(search.value));
  byId("title-show").addEventListener("click", () => show(search.value));
  if (search.value) show(search.value);
})();
