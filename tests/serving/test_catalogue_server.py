"""The prediction server on a catalogue release: the table verified and memory-mapped,
health only once ready, up to 1000 titles in one request, a damaged file never served."""

import json

import pytest
from support.catalogue_release import MODEL, catalogue_table, publish_table, versions_of
from support.servers import call, health_until, running

TITLES = 40


@pytest.fixture(scope="module")
def table():
    return catalogue_table(TITLES)


def predict(server, instances: list[dict]) -> tuple[int, dict]:
    body = json.dumps({"instances": instances, "parameters": {"horizon": 4}}).encode()
    status, answer = call(server.url + "/predict", body)
    return status, json.loads(answer)


def test_a_catalogue_release_answers_1000_titles_in_one_request(tmp_path, table):
    release = publish_table(tmp_path / "store", table).release
    with running(release.uri, tmp_path) as server:
        status, health, seen = health_until(server, lambda status, body: status == 200)
        assert set(seen) <= {200, 503}
        assert health == {
            "status": "ready",
            "release": release.release_id,
            "loaded": TITLES,
            "total": TITLES,
        }
        isbns = [table.keys[i % TITLES] for i in range(1000)]
        status, answer = predict(server, [{"isbn": k} for k in isbns])
        assert status == 200
        predictions = answer["predictions"]
        assert [p["isbn"] for p in predictions] == isbns
        versions = versions_of(table)
        assert all(p["model_name"] == MODEL for p in predictions)
        assert all(p["model_version"] == versions[p["isbn"]] for p in predictions)
        assert all(len(p["weeks"]) == 4 for p in predictions)

        status, answer = predict(server, [{"isbn": table.keys[0]}] * 1001)
        assert status == 413 and answer["error"]["field"] == "instances"
        assert "at most 1000 instances" in answer["error"]["reason"]

        status, answer = predict(server, [{"isbn": "9780000000000"}, {"isbn": table.keys[1]}])
        assert status == 200 and answer["predictions"][0]["error"]["field"] == "instances[0].isbn"


def test_a_damaged_catalogue_file_is_never_served(tmp_path, table):
    release = publish_table(tmp_path / "store", table).release
    shared = tmp_path / "store" / release.catalogue.path / "shared.parquet"
    shared.write_bytes(shared.read_bytes() + b"\0")
    with running(release.uri, tmp_path) as server:
        status, body, _ = health_until(server, lambda status, body: body["status"] != "loading")
        assert status == 503 and body["status"] == "failed"
        assert "shared.parquet: checksum" in body["reason"]
        status, answer = predict(server, [{"isbn": table.keys[0]}])
        assert status == 503 and answer["error"]["field"] == "release"
        assert "failed to load" in answer["error"]["reason"]
