"""infra/ (Terraform) against docs/cloud.md: least-privilege IAM and a private bucket.

The .tf files are parsed with python-hcl2, so no Terraform binary or GCP access is needed.
The checks are functions of the parsed files, and the tests at the end feed them edited
copies to show that they catch an owner/editor/admin role or a role the guide does not name.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import hcl2
import pytest

from shelfcast.endpoints.vertex import LOG_DATASET

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
CLOUD_DOC = ROOT / "docs" / "cloud.md"
INFRA_README = INFRA / "README.md"
TF_FILES = ("versions.tf", "variables.tf", "main.tf", "outputs.tf")

ACCOUNTS = {
    "shelfcast-deployer": "deployer",
    "shelfcast-serving": "serving",
    "shelfcast-pipelines": "pipelines",
}
ROLE = re.compile(r"roles/[A-Za-z0-9_.]+")
# The one role with "admin" in its name that the guide allows, and only on the bucket.
BUCKET_OBJECT_ADMIN = "roles/storage.objectAdmin"
IAM_MEMBER_SCOPES = {
    "google_project_iam_member": "project",
    "google_storage_bucket_iam_member": "bucket",
    "google_artifact_registry_repository_iam_member": "repository",
    "google_service_account_iam_member": "service account",
}


@dataclass(frozen=True, order=True)
class Binding:
    account: str  # the Terraform name of the member's google_service_account
    role: str
    scope: str  # project, bucket, repository, or "sa:<account>" for one service account


# -- reading the Terraform -----------------------------------------------------------------


def _text(value: object) -> str:
    """An HCL string as python-hcl2 gives it, without its quotes."""
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _unquoted(value: object) -> object:
    if isinstance(value, dict):
        return {_text(k): _unquoted(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_unquoted(v) for v in value]
    return _text(value) if isinstance(value, str) else value


def parse(sources: dict[str, str]) -> dict[str, list]:
    """The top-level blocks of all files, merged: {"resource": [...], "locals": [...], ...}."""
    merged: dict[str, list] = {}
    for name, text in sources.items():
        try:
            parsed = _unquoted(hcl2.loads(text))
        except Exception as exc:  # the parser's errors have no common base class
            raise AssertionError(f"{name} does not parse as HCL: {exc}") from exc
        for key, blocks in parsed.items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def resources(config: dict[str, list]) -> dict[tuple[str, str], dict]:
    found: dict[tuple[str, str], dict] = {}
    for block in config.get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                assert (kind, name) not in found, f"{kind}.{name} is declared twice"
                found[(kind, name)] = body
    return found


def _account_of(reference: str, attribute: str) -> str:
    match = re.search(rf"google_service_account\.(\w+)\.{attribute}\b", reference)
    assert match, f"{reference!r} is not a google_service_account's {attribute}"
    return match.group(1)


def bindings(res: dict[tuple[str, str], dict]) -> list[Binding]:
    """Every IAM grant, with its member and the resource it is granted on."""
    found = []
    for (kind, name), body in res.items():
        if not kind.endswith(("_iam_member", "_iam_binding", "_iam_policy")):
            continue
        assert kind in IAM_MEMBER_SCOPES, (
            f"{kind}.{name}: only additive *_iam_member resources on a project, the bucket, "
            "the repository or a service account are expected"
        )
        member = body["member"]
        account = (
            _account_of(member, "member")
            if member.endswith(".member}")
            else _account_of(member, "email")
        )
        scope = IAM_MEMBER_SCOPES[kind]
        if scope == "service account":
            scope = "sa:" + _account_of(body["service_account_id"], "name")
        elif scope == "bucket":
            assert "google_storage_bucket.artifacts." in body["bucket"], f"{kind}.{name}"
        elif scope == "repository":
            assert "google_artifact_registry_repository.shelfcast." in body["repository"]
        found.append(Binding(account, body["role"], scope))
    return sorted(found)


def forbidden_roles(sources: dict[str, str], grants: list[Binding]) -> list[str]:
    """Owner, editor and admin roles anywhere in the files (locals and variables too), and
    `roles/storage.objectAdmin` anywhere but on the bucket."""
    named = {role for text in sources.values() for role in ROLE.findall(text)}
    named |= {b.role for b in grants}
    bad = [
        role
        for role in named
        if role in ("roles/owner", "roles/editor")
        or role.lower().endswith(".admin")
        or ("admin" in role.lower() and role != BUCKET_OBJECT_ADMIN)
    ]
    bad += [
        f"{b.role} on {b.scope}"
        for b in grants
        if b.role == BUCKET_OBJECT_ADMIN and b.scope != "bucket"
    ]
    return sorted(bad)


# -- reading the guide ---------------------------------------------------------------------


def iam_sections(doc: str) -> list[str]:
    """The text of every `### IAM...` section of the guide, up to the next heading."""
    parts = re.split(r"^(#{2,3} .*)$", doc, flags=re.MULTILINE)
    return [body for title, body in zip(parts[1::2], parts[2::2], strict=True) if "IAM" in title]


def _scope(granted_on: str) -> str:
    text = granted_on.lower()
    for words, scope in (
        ("serving account", "sa:serving"),
        ("pipelines account", "sa:pipelines"),
        ("workload service account", "sa:pipelines"),
        ("bucket", "bucket"),
        ("repository", "repository"),
        ("project", "project"),
    ):
        if words in text:
            return scope
    raise AssertionError(f"unknown scope {granted_on!r} in docs/cloud.md")


def documented_bindings(doc: str) -> list[Binding]:
    """The `| role | granted on | why |` tables of the IAM sections, with the account each
    is for: the serving account's, the deployer's, and (section 2) the pipelines account's."""
    found = []
    for section in iam_sections(doc):
        # a table is a run of "|" lines; the paragraph before it says whose roles they are
        for intro, table in re.findall(r"((?:^[^|\n].*\n)+)\n((?:^\|.*\n)+)", section, re.M):
            if "**serving account**" in intro:
                account = "serving"
            elif "**deployer**" in intro:
                account = "deployer"
            else:
                account = "pipelines"
            for row in table.splitlines():
                cells = [c.strip().strip("`") for c in row.strip("|").split("|")]
                if ROLE.fullmatch(cells[0]):
                    found.append(Binding(account, cells[0], _scope(cells[1])))
    return sorted(found)


def readme_bindings(readme: str) -> list[Binding]:
    """infra/README.md's `| account | role | granted on |` table."""
    found = []
    for row in readme.splitlines():
        cells = [c.strip().strip("`") for c in row.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in ACCOUNTS and ROLE.fullmatch(cells[1]):
            scope = f"sa:{ACCOUNTS[cells[2]]}" if cells[2] in ACCOUNTS else _scope(cells[2])
            found.append(Binding(ACCOUNTS[cells[0]], cells[1], scope))
    return sorted(found)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return {name: (INFRA / name).read_text() for name in TF_FILES}


@pytest.fixture(scope="module")
def config(sources) -> dict[str, list]:
    return parse(sources)


@pytest.fixture(scope="module")
def res(config) -> dict[tuple[str, str], dict]:
    return resources(config)


@pytest.fixture(scope="module")
def grants(res) -> list[Binding]:
    return bindings(res)


@pytest.fixture(scope="module")
def doc() -> str:
    return CLOUD_DOC.read_text()


def _only(res: dict[tuple[str, str], dict], kind: str) -> dict:
    found = [body for (k, _), body in res.items() if k == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


# -- the tests -----------------------------------------------------------------------------


def test_the_files_and_the_google_provider(config):
    assert {p.name for p in INFRA.glob("*.tf")} == set(TF_FILES)
    (terraform,) = config["terraform"]
    (providers,) = terraform["required_providers"]
    assert providers["google"]["source"] == "hashicorp/google"
    assert providers["google"]["version"] == "~> 6.0"
    variables = {name for block in config["variable"] for name in block}
    assert {"project_id", "region", "bucket_name"} <= variables


def test_the_apis(res):
    (apis,) = [body for (kind, _), body in res.items() if kind == "google_project_service"]
    assert "local.apis" in apis["for_each"]
    assert apis["disable_on_destroy"] is False
    main = (INFRA / "main.tf").read_text()
    listed = re.search(r"apis\s*=\s*toset\(\[(.*?)\]\)", main, re.S)
    assert listed
    assert set(re.findall(r'"([a-z]+)\.googleapis\.com"', listed.group(1))) == {
        "aiplatform",
        "storage",
        "artifactregistry",
        "bigquery",
        "iam",
        "logging",
    }


def test_the_bucket_is_private_uniform_and_versioned(res):
    bucket = _only(res, "google_storage_bucket")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"][0]["enabled"] is True
    assert bucket["force_destroy"] is False
    # nothing makes it public another way
    public = [b for b in res.values() if re.search(r"allUsers|allAuthenticatedUsers", str(b))]
    assert public == []


def test_the_repository_and_the_log_dataset(res):
    repository = _only(res, "google_artifact_registry_repository")
    assert repository["format"] == "DOCKER"
    assert "local.repository_id" in repository["repository_id"]
    main = (INFRA / "main.tf").read_text()
    # `shelfcast stack vertex` defaults to <region>-docker.pkg.dev/<project>/shelfcast
    assert re.search(r'repository_id\s*=\s*"shelfcast"', main)
    assert re.search(rf'log_dataset\s*=\s*"{LOG_DATASET}"', main)
    dataset = _only(res, "google_bigquery_dataset")
    assert "local.log_dataset" in dataset["dataset_id"]


def test_the_three_service_accounts(res):
    accounts = {
        name: body["account_id"]
        for (kind, name), body in res.items()
        if kind == "google_service_account"
    }
    assert {account_id: name for name, account_id in accounts.items()} == ACCOUNTS


def test_no_owner_editor_or_admin_role(sources, grants):
    assert forbidden_roles(sources, grants) == []


def test_storage_roles_on_the_bucket_and_act_as_on_single_accounts(grants):
    for grant in grants:
        if grant.role.startswith("roles/storage."):
            assert grant.scope == "bucket", grant
        if grant.role == "roles/iam.serviceAccountUser":
            assert grant.scope.startswith("sa:"), grant
        if grant.role.startswith("roles/artifactregistry."):
            assert grant.scope == "repository", grant


def test_the_serving_account_only_reads_the_bucket(grants):
    serving = [g for g in grants if g.account == "serving"]
    assert [g for g in serving if g.scope == "bucket"] == [
        Binding("serving", "roles/storage.objectViewer", "bucket")
    ]
    assert sorted(serving) == sorted(
        [
            Binding("serving", "roles/storage.objectViewer", "bucket"),
            Binding("serving", "roles/logging.logWriter", "project"),
        ]
    )


def test_every_role_in_the_guides_iam_sections_is_granted_and_no_other(doc, sources, grants):
    sections = iam_sections(doc)
    assert len(sections) == 2
    documented = {role for section in sections for role in ROLE.findall(section)}
    in_terraform = {role for text in sources.values() for role in ROLE.findall(text)}
    assert documented == in_terraform
    assert {g.role for g in grants} == in_terraform


def test_each_account_has_exactly_the_bindings_the_guide_gives(doc, grants):
    documented = documented_bindings(doc)
    assert {b.account for b in documented} == set(ACCOUNTS.values())
    assert documented == grants


def test_the_infra_readme_lists_the_same_bindings(grants):
    assert readme_bindings(INFRA_README.read_text()) == grants


def test_the_guide_points_at_infra(doc):
    for command in ("terraform init", "terraform plan", "terraform apply"):
        assert command in doc
    for variable in ("project_id", "region", "bucket_name", "noncurrent_version_retention_days"):
        assert f"`{variable}`" in doc


# -- the checks catch what they are for ----------------------------------------------------

EXTRA_BINDING = """
resource "google_project_iam_member" "deployer_extra" {
  project = var.project_id
  role    = "%s"
  member  = google_service_account.deployer.member
}
"""


@pytest.mark.parametrize(
    "role",
    ["roles/editor", "roles/owner", "roles/storage.admin", "roles/iam.serviceAccountAdmin"],
)
def test_an_added_broad_role_is_caught(sources, doc, role):
    edited = {**sources, "main.tf": sources["main.tf"] + EXTRA_BINDING % role}
    grants = bindings(resources(parse(edited)))
    assert role in forbidden_roles(edited, grants)
    assert documented_bindings(doc) != grants


def test_a_broad_role_in_locals_is_caught(sources):
    edited = {**sources, "main.tf": sources["main.tf"] + 'locals {\n  r = "roles/editor"\n}\n'}
    assert forbidden_roles(edited, bindings(resources(parse(edited)))) == ["roles/editor"]


def test_object_admin_for_serving_or_on_the_project_is_caught(sources):
    edited = {
        **sources,
        "main.tf": sources["main.tf"].replace(
            'role   = "roles/storage.objectViewer"\n  member = google_service_account.serving',
            'role   = "roles/storage.objectAdmin"\n  member = google_service_account.serving',
        ),
    }
    assert edited["main.tf"] != sources["main.tf"]
    grants = bindings(resources(parse(edited)))
    assert Binding("serving", BUCKET_OBJECT_ADMIN, "bucket") in grants
    with pytest.raises(AssertionError):
        test_the_serving_account_only_reads_the_bucket(grants)
    project_wide = {**sources, "main.tf": sources["main.tf"] + EXTRA_BINDING % BUCKET_OBJECT_ADMIN}
    grants = bindings(resources(parse(project_wide)))
    assert forbidden_roles(project_wide, grants) == [f"{BUCKET_OBJECT_ADMIN} on project"]


def test_an_authoritative_policy_is_refused(sources):
    edited = {
        **sources,
        "main.tf": sources["main.tf"]
        + 'resource "google_project_iam_binding" "x" {\n  project = var.project_id\n'
        '  role    = "roles/viewer"\n  members = []\n}\n',
    }
    with pytest.raises(AssertionError, match="additive"):
        bindings(resources(parse(edited)))


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_fmt():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", "-recursive", str(INFRA)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout
