"""Static checks of deploy/: the Grafana dashboard and provisioning, compose, Kubernetes.

Nothing here starts a container: this machine and CI have no Docker engine or cluster. The
tests check what a reader would: that files parse, reference each other correctly, and
carry the settings the worker needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
GRAFANA = DEPLOY / "grafana"
K8S = DEPLOY / "k8s"
RULEBOOK_EXAMPLE = REPO / "rules" / "examples" / "b2b_saas.yaml"

WORKER_ENV = {
    "FOLLOWUP_BROKER_URL": "kafka://kafka:9092",
    "FOLLOWUP_STATE_DIR": "/var/lib/followup",
    "FOLLOWUP_WEB_PORT": "6066",
    "FOLLOWUP_WEB_HOST": "0.0.0.0",
    "FOLLOWUP_RULEBOOK": "/etc/followup/rulebook.yaml",
}


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


# --- Grafana ----------------------------------------------------------------------------


def _dashboard() -> dict[str, Any]:
    return json.loads((GRAFANA / "dashboards" / "followup.json").read_text())


def _panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from _panels(panel.get("panels", []))


def test_dashboard_panels_each_have_a_datasource_and_a_query() -> None:
    dashboard = _dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    panels = [p for p in _panels(dashboard["panels"]) if p["type"] != "row"]
    assert len(panels) >= 10
    ids = [p["id"] for p in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        title = panel["title"]
        source = panel.get("datasource")
        assert source and source["type"] == "prometheus", f"{title}: no Prometheus datasource"
        uid = source["uid"]
        assert uid == "prometheus" or uid.strip("${}") in variables, f"{title}: uid {uid}"
        assert panel.get("targets"), f"{title}: no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), f"{title}: empty query"


def test_dashboard_covers_traffic_errors_latency_saturation_and_rulebook() -> None:
    queries = "\n".join(
        t["expr"] for p in _panels(_dashboard()["panels"]) for t in p.get("targets", [])
    )
    for needle in (
        "followup_events_consumed_total",
        "followup_windows_opened_total",
        "followup_events_dead_lettered_total",
        "followup_windows_suppressed_total",
        "followup_events_duplicate_total",
        "histogram_quantile(0.99, sum by (le) (rate(followup_signal_to_window_seconds_bucket",
        "histogram_quantile(0.5, sum by (le) (rate(followup_scoring_seconds_bucket",
        "followup_consumer_lag_messages",
        "followup_table_keys",
        "followup_last_processed_timestamp_seconds",
        "followup_rebalances_total",
        "followup_rulebook_info",
    ):
        assert needle in queries, f"no panel queries {needle}"


def test_dashboard_datasource_variable_defaults_to_the_provisioned_uid() -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "prometheus"
    variables = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["current"]["value"] == source["uid"]


def test_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/followup.yml").read_text())
    (entry,) = provider["providers"]
    grafana = _compose()["services"]["grafana"]
    mounts = dict(_bind(v) for v in grafana["volumes"] if v.startswith("."))
    assert mounts["./grafana/dashboards"] == entry["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


# --- compose ----------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _bind(volume: str) -> tuple[str, str]:
    source, target = volume.split(":")[:2]
    return source, target


def test_compose_runs_kafka_a_worker_prometheus_and_grafana() -> None:
    services = _compose()["services"]
    assert set(services) == {"kafka", "worker", "prometheus", "grafana"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    worker = services["worker"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert {k: str(v) for k, v in worker["environment"].items()}.items() >= WORKER_ENV.items()
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_bind_mounts_exist_and_land_where_the_services_look() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, _ = _bind(volume)
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
    worker_mounts = dict(_bind(v) for v in services["worker"]["volumes"])
    assert worker_mounts["../rules/examples/b2b_saas.yaml"] == WORKER_ENV["FOLLOWUP_RULEBOOK"]
    assert worker_mounts["worker-state"] == WORKER_ENV["FOLLOWUP_STATE_DIR"]
    prometheus = services["prometheus"]
    prom_mounts = {target: source for source, target in map(_bind, prometheus["volumes"])}
    config = prom_mounts["/etc/prometheus/prometheus.yml"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    rule_files = yaml.safe_load((DEPLOY / config).read_text())["rule_files"]
    for rule_file in rule_files:  # relative to the config file, inside the container too
        assert f"/etc/prometheus/{rule_file}" in prom_mounts


def test_dockerfile_installs_the_package_and_runs_the_worker() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "\nFROM python:3.11-slim\n" in text
    assert "RUN pip install ." in text
    assert 'CMD ["followup", "run"]' in text
    assert "\nUSER 10001" in text


# --- Kubernetes -------------------------------------------------------------------------


def _manifests() -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _load_all(path):
            assert {"apiVersion", "kind"} <= set(doc), f"{path.name}: no apiVersion/kind"
            by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def _one(kind: str) -> dict[str, Any]:
    (doc,) = _manifests()[kind]
    return doc


def test_k8s_manifests_parse_with_the_expected_kinds() -> None:
    counts = {kind: len(docs) for kind, docs in _manifests().items()}
    assert counts == {
        "Kustomization": 1,
        "Namespace": 1,
        "ConfigMap": 1,
        "Service": 2,
        "StatefulSet": 1,
        "PodDisruptionBudget": 1,
    }
    listed = set(_one("Kustomization")["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def _container() -> dict[str, Any]:
    (container,) = _one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return container


def _env() -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container()["env"]}


def test_statefulset_keeps_state_on_a_claim_and_probes_health() -> None:
    sts = _one("StatefulSet")
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    container = _container()
    env = _env()
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    # Each worker needs at least one partition, or it never becomes ready.
    assert spec["replicas"] <= int(env["FOLLOWUP_PARTITIONS"])
    (claim,) = spec["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == env["FOLLOWUP_STATE_DIR"]
    assert Path(env["FOLLOWUP_RULEBOOK"]).parent == Path(mounts["rulebook"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    port = container["ports"][0]
    assert port["containerPort"] == int(env["FOLLOWUP_WEB_PORT"])
    assert env["FOLLOWUP_WEB_HOST"] == "0.0.0.0"
    assert {"requests", "limits"} <= set(container["resources"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_services_pdb_and_configmap_select_and_name_the_workers() -> None:
    sts = _one("StatefulSet")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    services = {s["metadata"]["name"]: s for s in _manifests()["Service"]}
    headless = services[sts["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    metrics = services["followup-metrics"]
    annotations = metrics["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == _env()["FOLLOWUP_WEB_PORT"]
    assert annotations["prometheus.io/path"] == "/metrics"
    for selector in (
        headless["spec"]["selector"],
        metrics["spec"]["selector"],
        _one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= pod_labels.items()
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["rulebook"]["configMap"]["name"] == _one("ConfigMap")["metadata"]["name"]


def test_rulebook_configmap_is_the_example_rulebook() -> None:
    data = _one("ConfigMap")["data"]["rulebook.yaml"]
    assert data == RULEBOOK_EXAMPLE.read_text(), (
        "deploy/k8s/configmap-rulebook.yaml differs from rules/examples/b2b_saas.yaml: "
        "regenerate it (command in its header) or, if it is meant to differ, change this test"
    )
