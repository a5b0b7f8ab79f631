//! Operations: `/health` on running nodes, and the files of `deploy/` against what the node
//! really serves. A real Prometheus (Debian's, installed by `tools/test`) scrapes a dev L1 and an
//! L2 following it, both the `sequencer` binary: promtool checks the configuration and the alert
//! rules and runs their unit tests, Prometheus loads and evaluates the rules, and every query of
//! the Grafana dashboard must return data, so that a panel or an alert naming a series nobody
//! exports fails here.

use crate::support::{dev_signer, eip1559, following_config, launch, launch_l1, sign};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use sequencer::{config::Config, genesis::ChainGenesis, node::Node};
use serde_json::Value;
use std::{
    collections::BTreeSet,
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The repository's root.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn repo(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

/// `GET /health` of `node`: the status code and the JSON body.
async fn health(metrics_addr: SocketAddr) -> (u16, Value) {
    let response = reqwest::get(format!("http://{metrics_addr}/health")).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").cloned();
    assert_eq!(content_type.unwrap(), "application/json");
    (status, response.json().await.unwrap())
}

/// Polls `/health` until `done` holds of its answer; fails after 20 s with the last answer.
async fn wait_health(metrics_addr: SocketAddr, what: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = health(metrics_addr).await;
        if done(status, &body) {
            return body;
        }
        assert!(Instant::now() < deadline, "/health: {what} not within 20 s; last: {status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_200_with_the_head_of_a_producing_chain() {
    let dir = tempfile::tempdir().unwrap();
    let node = launch(dir.path(), None).await;
    let body = wait_health(node.metrics_addr, "a producing chain past block 1", |status, body| {
        status == 200 && body["head"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(body["producing"], true);
    let age = body["head_age_seconds"].as_f64().unwrap();
    assert!((0.0..3.0).contains(&age), "{body}");
    // No L1: nothing to reach, nothing anchored; settlement comes with the batcher.
    assert_eq!(
        body["l1"],
        serde_json::json!({ "configured": false, "reachable": false, "lag_seconds": null, "anchor": null })
    );
    assert_eq!(body["settling"], Value::Null);
    assert_eq!(body.as_object().unwrap().len(), 5, "{body}");
    node.stop().await;
}

/// An L2 following a dev L1 reports its anchor and how recently it read the L1; an L1 that goes
/// down makes it unreachable, not unready: the L2 goes on producing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_l1_an_l2_follows_and_stays_ready_through_an_l1_outage() {
    let (l1_dir, l2_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let l1 = launch_l1(l1_dir.path()).await;
    let config = following_config(l2_dir.path(), None, l1.rpc_addr, 2);
    let l2 = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();
    let body = wait_health(l2.metrics_addr, "an anchored, producing chain", |status, body| {
        status == 200 && body["l1"]["anchor"].as_u64().is_some() && body["head"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(body["l1"]["configured"], true);
    assert_eq!(body["l1"]["reachable"], true);
    let lag = body["l1"]["lag_seconds"].as_f64().unwrap();
    assert!((0.0..5.0).contains(&lag), "{body}");
    let l1_head = l1.head.borrow().number;
    assert!(body["l1"]["anchor"].as_u64().unwrap() <= l1_head, "{body}");

    l1.stop().await;
    let body =
        wait_health(l2.metrics_addr, "the L1 unreachable", |_, body| body["l1"]["reachable"] == false).await;
    assert!(body["l1"]["anchor"].as_u64().is_some(), "the anchor stays: {body}");
    // Blocks go on with the last anchor, a second apart: the node stays ready.
    let head = body["head"].as_u64().unwrap();
    let body = wait_health(l2.metrics_addr, "a block after the outage began", |status, body| {
        status == 200 && body["head"].as_u64() > Some(head)
    })
    .await;
    assert_eq!(body["producing"], true);
    assert!(body["l1"]["lag_seconds"].as_f64().unwrap() > 0.0, "{body}");
    l2.stop().await;
}

/// A fresh chain that follows an L1 seals nothing before the L1 first answers: not ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_while_a_fresh_chain_waits_for_its_l1() {
    let dir = tempfile::tempdir().unwrap();
    let nothing = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = following_config(dir.path(), None, nothing, 2);
    let node = Node::launch(&config, ChainGenesis::dev().unwrap()).await.unwrap();
    // A few polls of the L1 and block intervals, all failed or skipped.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = health(node.metrics_addr).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["producing"], false);
    assert_eq!(body["head"], 0);
    assert_eq!(
        body["l1"],
        serde_json::json!({ "configured": true, "reachable": false, "lag_seconds": null, "anchor": null })
    );
    node.stop().await;
}

/// Kubernetes' ConfigMap is made from a copy of the example configuration (kustomize reads no
/// file outside its folder): the two stay identical. The compose stack's configuration is a
/// valid production configuration whose genesis the image carries.
#[test]
fn deployment_configurations_are_the_example_and_valid() {
    let example = fs::read_to_string(repo("config/sequencer.example.toml")).unwrap();
    let copy = fs::read_to_string(repo("deploy/kubernetes/sequencer.toml")).unwrap();
    assert!(
        example == copy,
        "deploy/kubernetes/sequencer.toml differs from config/sequencer.example.toml: copy it again"
    );
    let compose = Config::load(&repo("deploy/sequencer.toml")).unwrap();
    compose.validate(false).unwrap();
    // The image copies config/ to /opt/sequencer/config/, its working directory's.
    let genesis = compose.chain.genesis.unwrap();
    assert!(repo("config").join(genesis.strip_prefix("config").unwrap()).exists());
    assert!(compose.l1.rpc_url.is_some(), "the stack's L2 follows its L1");
    // The password comes from a secret, not the file.
    let url = url::Url::parse(&compose.database.url.unwrap()).unwrap();
    assert_eq!((url.scheme(), url.password()), ("postgres", None));
}

/// The dashboard reads the datasource Grafana is provisioned with.
#[test]
fn dashboard_panels_read_the_provisioned_datasource() {
    let provisioning: serde_yaml::Value = serde_yaml::from_str(
        &fs::read_to_string(repo("deploy/grafana/provisioning/datasources/prometheus.yml")).unwrap(),
    )
    .unwrap();
    let uid = provisioning["datasources"][0]["uid"].as_str().unwrap();
    let dashboard = dashboard();
    for panel in dashboard["panels"].as_array().unwrap() {
        for source in std::iter::once(&panel["datasource"])
            .chain(panel["targets"].as_array().into_iter().flatten().map(|target| &target["datasource"]))
        {
            if !source.is_null() {
                assert_eq!(source["uid"], uid, "panel {}", panel["title"]);
            }
        }
    }
}

fn dashboard() -> Value {
    serde_json::from_str(&fs::read_to_string(repo("deploy/grafana/dashboards/rollup.json")).unwrap()).unwrap()
}

/// Debian's Prometheus and promtool.
const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";

/// A child process killed on drop, its output in a file.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Self {
        let out = fs::File::create(&log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        Self { name, child, log }
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails with the daemon's output if it has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited ({status}):\n{}", self.name, self.output());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// `sequencer ARGS` on ephemeral loopback ports in `dir`, with the JSON-RPC and metrics
/// addresses it printed.
async fn start_sequencer(name: &'static str, dir: &Path, args: &[&str]) -> (Daemon, SocketAddr, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sequencer"));
    command
        .args(args)
        .args(["--http-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--log-filter", "warn"])
        .arg("--datadir")
        .arg(dir.join("data"));
    let mut daemon = Daemon::spawn(name, &mut command, dir.join("output.log"));
    let printed = |output: &str, label: &str| {
        output.lines().find_map(|line| line.strip_prefix(label)).map(|url| {
            let url = url.trim().trim_start_matches("http://").trim_end_matches("/metrics");
            url.parse::<SocketAddr>().unwrap()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = daemon.output();
        if let (Some(rpc), Some(metrics)) =
            (printed(&output, "JSON-RPC (HTTP and WebSocket):"), printed(&output, "Metrics:"))
        {
            return (daemon, rpc, metrics);
        }
        daemon.assert_running();
        assert!(Instant::now() < deadline, "{name} did not start within 30 s:\n{output}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs promtool; fails with its output unless it succeeds.
fn promtool(dir: &Path, args: &[&str]) {
    let output = Command::new(PROMTOOL).current_dir(dir).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "promtool {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A Prometheus query's answer, failing on a query Prometheus refuses.
async fn query(client: &reqwest::Client, prometheus: SocketAddr, expr: &str) -> Value {
    let response = client
        .get(format!("http://{prometheus}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "success", "query `{expr}`: {body}");
    body["data"].clone()
}

/// Whether a query's answer holds data: a sample or a series, or a scalar.
fn has_data(data: &Value) -> bool {
    match data["resultType"].as_str() {
        Some("vector" | "matrix") => data["result"].as_array().is_some_and(|result| !result.is_empty()),
        Some("scalar" | "string") => true,
        _ => false,
    }
}

/// The metric names `expr` reads that the node exports (`sequencer_*`).
fn sequencer_series(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|token| token.starts_with("sequencer_"))
        .map(str::to_owned)
        .collect()
}

/// `expr` with the dashboard's variables replaced: each template variable by its current value,
/// Grafana's own by ranges that span several of the test's 1 s scrapes.
fn substitute(expr: &str, variables: &[(String, String)]) -> String {
    let mut expr = expr.to_owned();
    for (name, value) in [("__rate_interval", "30s"), ("__interval", "5s"), ("__range", "5m")]
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .chain(variables.iter().cloned())
    {
        expr = expr.replace(&format!("${{{name}}}"), &value).replace(&format!("${name}"), &value);
    }
    assert!(!expr.contains('$'), "a dashboard variable this test does not know: {expr}");
    expr
}

/// Sends what makes every labelled series appear: a transaction the pool admits, one it
/// refuses, and a call of a method the node does not serve (an error).
async fn traffic(client: &reqwest::Client, l2: &RootProvider, rpc: SocketAddr) {
    let signer = dev_signer(7);
    let to = TxKind::Call(Address::repeat_byte(0x42));
    let valid = sign(&signer, eip1559(0, to, 21_000, U256::from(1), Bytes::new()));
    let _pending = l2.send_raw_transaction(&valid).await.unwrap();
    // Again: already known, or below the sender's nonce once sealed; refused by the pool.
    assert!(l2.send_raw_transaction(&valid).await.is_err());
    call_unknown_method(client, rpc).await;
}

/// A JSON-RPC call the node answers with an error (method `unknown` in the metrics).
async fn call_unknown_method(client: &reqwest::Client, rpc: SocketAddr) {
    let call = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "ops_nothing", "params": [] });
    client.post(format!("http://{rpc}")).json(&call).send().await.unwrap();
}

/// deploy/prometheus/prometheus.yml with each job's target at `targets` (a job this test does
/// not run fails it), scraping and evaluating every second, its rule files at their paths.
fn prometheus_config(targets: &[(&str, SocketAddr)]) -> String {
    let dir = repo("deploy/prometheus");
    let mut config: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(dir.join("prometheus.yml")).unwrap()).unwrap();
    config["global"]["scrape_interval"] = "1s".into();
    config["global"]["evaluation_interval"] = "1s".into();
    let rules: Vec<serde_yaml::Value> = config["rule_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|file| dir.join(file.as_str().unwrap()).to_str().unwrap().into())
        .collect();
    config["rule_files"] = rules.into();
    for scrape in config["scrape_configs"].as_sequence_mut().unwrap() {
        let job = scrape["job_name"].as_str().unwrap();
        let (_, target) = targets
            .iter()
            .find(|(name, _)| *name == job)
            .unwrap_or_else(|| panic!("prometheus.yml scrapes {job}, which this test does not run"));
        scrape["static_configs"] = serde_yaml::from_str(&format!("[{{targets: ['{target}']}}]")).unwrap();
    }
    serde_yaml::to_string(&config).unwrap()
}

/// Every query of the dashboard, with its panel's title, its variables substituted.
fn dashboard_queries() -> Vec<(String, String)> {
    let dashboard = dashboard();
    let variables: Vec<(String, String)> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variable| {
            let value = variable["current"]["value"].as_str().unwrap();
            (variable["name"].as_str().unwrap().to_owned(), value.to_owned())
        })
        .collect();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = substitute(target["expr"].as_str().unwrap(), &variables);
            queries.push((panel["title"].as_str().unwrap().to_owned(), expr));
        }
    }
    queries
}

/// The names of the alert rules in deploy/prometheus/alerts.yml, and the node's series they read.
fn alert_rules() -> (BTreeSet<String>, BTreeSet<String>) {
    let alerts: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(repo("deploy/prometheus/alerts.yml")).unwrap()).unwrap();
    let (mut names, mut series) = (BTreeSet::new(), BTreeSet::new());
    for group in alerts["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            names.insert(rule["alert"].as_str().unwrap().to_owned());
            series.extend(sequencer_series(rule["expr"].as_str().unwrap()));
        }
    }
    (names, series)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_dashboard_query_and_alert_series_from_a_dev_chain() {
    for tool in [PROMETHEUS, PROMTOOL] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: install Debian's prometheus package (tools/test does)"
        );
    }
    let prometheus_dir = repo("deploy/prometheus");
    promtool(&prometheus_dir, &["check", "config", "prometheus.yml"]);
    promtool(&prometheus_dir, &["check", "rules", "alerts.yml"]);
    promtool(&prometheus_dir, &["test", "rules", "alerts.test.yml"]);

    // The dev L1 and an L2 following it, as the compose stack runs them.
    let dir = tempfile::tempdir().unwrap();
    let (l1_dir, l2_dir, prometheus_data) =
        (dir.path().join("l1"), dir.path().join("l2"), dir.path().join("tsdb"));
    for path in [&l1_dir, &l2_dir, &prometheus_data] {
        fs::create_dir(path).unwrap();
    }
    let (mut l1, l1_rpc, l1_metrics) =
        start_sequencer("sequencer l1", &l1_dir, &["l1", "--block-time-ms", "200"]).await;
    let l1_url = format!("http://{l1_rpc}");
    let (mut l2, l2_rpc, l2_metrics) = start_sequencer(
        "sequencer dev",
        &l2_dir,
        &[
            "dev",
            "--l2-only",
            "--block-time-ms",
            "200",
            "--l1-rpc",
            &l1_url,
            "--l1-chain-id",
            "900",
            "--l1-poll-interval-ms",
            "200",
        ],
    )
    .await;

    let config_path = dir.path().join("prometheus.yml");
    fs::write(&config_path, prometheus_config(&[("sequencer", l2_metrics), ("l1", l1_metrics)])).unwrap();
    let prometheus_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut prometheus = Daemon::spawn(
        "prometheus",
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", prometheus_data.display()))
            .arg(format!("--web.listen-address={prometheus_addr}"))
            .arg("--log.level=warn"),
        dir.path().join("prometheus.log"),
    );

    let client = reqwest::Client::new();
    let l2_provider = ProviderBuilder::default().connect_http(format!("http://{l2_rpc}").parse().unwrap());
    // Both nodes scraped, the L2 anchored to the L1, before any traffic: a counter's increase
    // shows only against an earlier sample.
    let deadline = Instant::now() + Duration::from_secs(60);
    for expr in [
        r#"up{job="sequencer"} == 1"#,
        r#"up{job="l1"} == 1"#,
        r#"sequencer_l1_anchor_number{job="sequencer"} > 0"#,
    ] {
        loop {
            prometheus.assert_running();
            let ready = client.get(format!("http://{prometheus_addr}/-/ready")).send().await;
            if ready.is_ok_and(|ready| ready.status().is_success())
                && has_data(&query(&client, prometheus_addr, expr).await)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus: `{expr}` not within 60 s:\n{}",
                prometheus.output()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    traffic(&client, &l2_provider, l2_rpc).await;

    // Every panel's query returns data (retried while recent traffic reaches a scrape).
    let exprs = dashboard_queries();
    assert!(exprs.len() >= 30, "the dashboard has {} queries", exprs.len());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut empty: Vec<&(String, String)> = exprs.iter().collect();
    while !empty.is_empty() {
        let mut still = Vec::new();
        for entry in empty {
            if !has_data(&query(&client, prometheus_addr, &entry.1).await) {
                still.push(entry);
            }
        }
        empty = still;
        if empty.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "dashboard queries without data after 30 s: {empty:#?}");
        l2_provider.get_block_number().await.unwrap();
        call_unknown_method(&client, l2_rpc).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every series an alert reads is exported, and Prometheus evaluates every rule without error.
    let (rule_names, series) = alert_rules();
    for name in &series {
        let data = query(&client, prometheus_addr, &format!(r#"{{__name__="{name}"}}"#)).await;
        assert!(has_data(&data), "alerts.yml reads {name}, which no node exports");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = client
            .get(format!("http://{prometheus_addr}/api/v1/rules"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rules: Vec<&Value> = body["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|group| group["rules"].as_array().unwrap())
            .collect();
        let loaded: BTreeSet<String> =
            rules.iter().map(|rule| rule["name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(loaded, rule_names, "Prometheus loaded other rules than alerts.yml's");
        for rule in &rules {
            assert_ne!(rule["health"], "err", "rule {} fails: {}", rule["name"], rule["lastError"]);
        }
        if rules.iter().all(|rule| rule["health"] == "ok") {
            break;
        }
        assert!(Instant::now() < deadline, "rules not all evaluated within 30 s: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A healthy chain raises none of them, not even pending.
    let alerts = query(&client, prometheus_addr, "ALERTS").await;
    assert!(!has_data(&alerts), "alerts on a healthy chain: {alerts}");
    l1.assert_running();
    l2.assert_running();
}
