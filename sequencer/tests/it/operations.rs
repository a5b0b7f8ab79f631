//! Operations: `/health` on running nodes, and the files of `deploy/` against what the node
//! really serves. A real Prometheus (Debian's, installed by `tools/test`) scrapes the whole dev
//! rollup (`sequencer dev`: a dev L1, the L2 following it and the batcher, in one process) while
//! transfers settle: promtool checks the configuration and the alert rules and runs their unit
//! tests, Prometheus loads and evaluates the rules, and every query of the Grafana dashboard
//! must return data, so that a panel or an alert naming a series nobody exports fails here.

use crate::support::{
    dev_signer, eip1559, following_config, launch, launch_l1, provider, sign, wait_receipt,
};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use batcher::service::config::BatcherFile;
use sequencer::{config::Config, dev_rollup::DevRollup, genesis::ChainGenesis, node::Node};
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

/// Polls `/health` until `done` holds of its answer; fails after 60 s with the last answer.
async fn wait_health(metrics_addr: SocketAddr, what: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = health(metrics_addr).await;
        if done(status, &body) {
            return body;
        }
        assert!(Instant::now() < deadline, "/health: {what} not within 60 s; last: {status} {body}");
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
    // No L1: nothing to reach, nothing anchored, no bridge to settle on.
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

/// Sends `count` transfers from dev account 6 (from its next nonce); the block of the last.
async fn transfers(l2: &RootProvider, count: u64) -> u64 {
    let sender = dev_signer(6);
    let nonce = l2.get_transaction_count(sender.address()).pending().await.unwrap();
    let mut last = Default::default();
    for nonce in nonce..nonce + count {
        let tx =
            eip1559(nonce, TxKind::Call(Address::repeat_byte(0x66)), 21_000, U256::from(1u64), Bytes::new());
        last = *l2.send_raw_transaction(&sign(&sender, tx)).await.unwrap().tx_hash();
    }
    wait_receipt(l2, last).await.block_number.unwrap()
}

/// `GET /metrics` of the node at `metrics_addr`.
async fn scrape(metrics_addr: SocketAddr) -> String {
    reqwest::get(format!("http://{metrics_addr}/metrics")).await.unwrap().text().await.unwrap()
}

/// The value of the unlabelled series `name` in a scrape.
fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The sum of the series of metric `name` (every label set) in a scrape.
fn total(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|line| {
            line.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The whole dev rollup in one process: the L2's `/health` says how settlement on its bridge
/// trails the head, and each node's `/metrics` serves its own series (the L2's with the
/// batcher's), never the other chain's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_settlement_and_each_node_of_the_dev_rollup_serves_its_own_series() {
    let dir = tempfile::tempdir().unwrap();
    let options = crate::support::dev_rollup_options();
    let rollup = DevRollup::launch(crate::support::config(dir.path(), None, 200), &options).await.unwrap();
    let (l1_node, l2) = (rollup.l1.as_ref().unwrap(), provider(&rollup.l2));
    let block = transfers(&l2, 3).await;
    let body = wait_health(rollup.l2.metrics_addr, "the transfers settled", |status, body| {
        status == 200
            && body["settling"]["safe"].as_u64() >= Some(block)
            && body["settling"]["lag_seconds"].is_number()
    })
    .await;
    let settling = &body["settling"];
    assert_eq!(settling["bridge"].as_str().unwrap().parse::<Address>().unwrap(), rollup.bridge.address);
    let head = body["head"].as_u64().unwrap();
    let (safe, finalized) = (settling["safe"].as_u64().unwrap(), settling["finalized"].as_u64().unwrap());
    assert!(finalized <= safe && safe <= head, "{body}");
    // Measured at the follower's last round, when the head was this one or older.
    assert!(settling["lag_blocks"].as_u64().unwrap() <= head - safe, "{body}");
    assert!((0.0..60.0).contains(&settling["lag_seconds"].as_f64().unwrap()), "{body}");
    assert_eq!(settling.as_object().unwrap().len(), 5, "{body}");
    // The dev L1 follows no bridge.
    let (_, l1_body) = health(l1_node.metrics_addr).await;
    assert_eq!(l1_body["settling"], Value::Null);

    let (l2_series, l1_series) = (scrape(rollup.l2.metrics_addr).await, scrape(l1_node.metrics_addr).await);
    for name in
        ["sequencer_l2_safe_number", "sequencer_settlement_lag_seconds", "batcher_batches_settled_total"]
    {
        assert!(sample(&l2_series, name).is_some(), "the L2's /metrics lacks {name}");
        assert!(sample(&l1_series, name).is_none(), "the L1's /metrics serves {name}");
    }
    // Built and sent; counted settled only once confirmed, which may still be under way.
    assert!(total(&l2_series, "batcher_batches_built_total") >= 1.0);
    assert!(!l1_series.contains("batcher_"), "the L1's /metrics serves the batcher's series");
    // Each node's head is its own chain's. The gauge is set as a block is sealed, the RPC's
    // head once it is committed: at most one ahead.
    let l1 = ProviderBuilder::default().connect_http(rollup.l1_url.clone());
    for (node, chain) in [(l1_node, &l1), (&rollup.l2, &l2)] {
        let before = chain.get_block_number().await.unwrap();
        let gauge = sample(&scrape(node.metrics_addr).await, "sequencer_head_number").unwrap() as u64;
        let after = chain.get_block_number().await.unwrap();
        assert!((before..=after + 1).contains(&gauge), "head {gauge} on a chain at {before}..{after}");
    }
    rollup.stop().await;
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
    // The compose file mounts deploy/genesis.json there, the genesis naming the stack's bridge.
    assert_eq!(compose.chain.genesis.unwrap(), Path::new("/etc/sequencer/genesis.json"));
    let genesis = sequencer::genesis::ChainGenesis::load(&repo("deploy/genesis.json")).unwrap();
    assert_eq!(
        genesis.l1_bridge, compose.l1.bridge_address,
        "the L2 bridge delivers the stack bridge's messages"
    );
    let mounts = fs::read_to_string(repo("deploy/docker-compose.yml")).unwrap();
    assert!(mounts.contains("./genesis.json:/etc/sequencer/genesis.json:ro"));
    assert!(compose.l1.rpc_url.is_some(), "the stack's L2 follows its L1");
    assert!(
        compose.l1.relayer_key_file.as_ref().unwrap().starts_with("/run/secrets"),
        "the relayer's key is no secret"
    );
    // The password comes from a secret, not the file.
    let url = url::Url::parse(&compose.database.url.unwrap()).unwrap();
    assert_eq!((url.scheme(), url.password()), ("postgres", None));

    // The batchers' files are valid, their keys come from secrets, and the stack's batcher
    // proposes to the bridge its sequencer follows.
    for path in ["deploy/batcher.toml", "deploy/kubernetes/batcher.toml"] {
        let file = BatcherFile::parse(&fs::read_to_string(repo(path)).unwrap()).unwrap();
        file.config().unwrap_or_else(|error| panic!("{path}: {error}"));
        assert!(file.batcher.key_file.starts_with("/run/secrets"), "{path}: the key is no secret");
        if path == "deploy/batcher.toml" {
            assert_eq!(Some(file.batcher.bridge_address), compose.l1.bridge_address);
        }
    }
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

/// The address of the URL `output` printed after `label` (`http://ADDR/...`).
fn printed(output: &str, label: &str) -> Option<SocketAddr> {
    let url = output.lines().find_map(|line| line.strip_prefix(label))?.split_whitespace().next()?;
    url.strip_prefix("http://")?.split('/').next()?.parse().ok()
}

/// Where the dev rollup serves: the L2's JSON-RPC and metrics, the dev L1's metrics.
struct DevRollupAddrs {
    l2_rpc: SocketAddr,
    l2_metrics: SocketAddr,
    l1_metrics: SocketAddr,
}

/// `sequencer dev` (the whole rollup) on ephemeral loopback ports in `dir`, a dev L1 block every
/// 500 ms, with the addresses it printed.
async fn start_dev_rollup(dir: &Path) -> (Daemon, DevRollupAddrs) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sequencer"));
    command
        .arg("dev")
        .args(["--http-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"])
        .args(["--l1-http-addr", "127.0.0.1:0", "--l1-metrics-addr", "127.0.0.1:0"])
        .args(["--l1-block-time-ms", "500", "--log-filter", "warn"])
        .arg("--datadir")
        .arg(dir.join("data"));
    let mut daemon = Daemon::spawn("sequencer dev", &mut command, dir.join("output.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = daemon.output();
        if let (Some(l2_rpc), Some(l2_metrics), Some(l1_metrics)) = (
            printed(&output, "L2 JSON-RPC (HTTP and WebSocket):"),
            printed(&output, "Metrics:"),
            printed(&output, "L1 metrics:"),
        ) {
            return (daemon, DevRollupAddrs { l2_rpc, l2_metrics, l1_metrics });
        }
        daemon.assert_running();
        assert!(Instant::now() < deadline, "sequencer dev did not start within 60 s:\n{output}");
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

/// The metric names `expr` reads that the nodes and the batcher export (`sequencer_*`,
/// `batcher_*`).
fn exported_series(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|token| token.starts_with("sequencer_") || token.starts_with("batcher_"))
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

/// deploy/prometheus/prometheus.yml with each job's target at `targets`, without the jobs
/// `served_elsewhere` (whose series another job's endpoint serves; any other job this test does
/// not run fails it), scraping and evaluating every second, its rule files at their paths.
fn prometheus_config(targets: &[(&str, SocketAddr)], served_elsewhere: &[&str]) -> String {
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
    let scrapes = config["scrape_configs"].as_sequence_mut().unwrap();
    scrapes.retain(|scrape| !served_elsewhere.contains(&scrape["job_name"].as_str().unwrap()));
    for scrape in scrapes {
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
            series.extend(exported_series(rule["expr"].as_str().unwrap()));
        }
    }
    (names, series)
}

/// The whole dev rollup, as `sequencer dev` runs it, scraped by Prometheus while transfers
/// settle: every dashboard query and every series an alert reads has data, every rule
/// evaluates, and none fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_dashboard_query_and_alert_series_from_the_dev_rollup() {
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

    let dir = tempfile::tempdir().unwrap();
    let prometheus_data = dir.path().join("tsdb");
    fs::create_dir(&prometheus_data).unwrap();
    let (mut rollup, addrs) = start_dev_rollup(dir.path()).await;

    // The L2 as job `sequencer` and the dev L1 as job `l1`, as the compose stack names them.
    // The dev rollup's batcher has no endpoint of its own: its series are the L2's.
    let config_path = dir.path().join("prometheus.yml");
    let targets = [("sequencer", addrs.l2_metrics), ("l1", addrs.l1_metrics)];
    fs::write(&config_path, prometheus_config(&targets, &["batcher"])).unwrap();
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
    let l2 = ProviderBuilder::default().connect_http(format!("http://{}", addrs.l2_rpc).parse().unwrap());
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
    traffic(&client, &l2, addrs.l2_rpc).await;

    // Transfers, settled: the bridge's head (the L2's safe block) reaches their block.
    let block = transfers(&l2, 3).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let safe = l2.get_block_by_number(BlockNumberOrTag::Safe).await.unwrap().unwrap().header.number;
        if safe >= block {
            break;
        }
        rollup.assert_running();
        assert!(Instant::now() < deadline, "block {block} not settled within 90 s (safe: {safe})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every panel's query returns data (retried while recent traffic reaches a scrape).
    let exprs = dashboard_queries();
    assert!(exprs.len() >= 50, "the dashboard has {} queries", exprs.len());
    let deadline = Instant::now() + Duration::from_secs(60);
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
        assert!(Instant::now() < deadline, "dashboard queries without data after 60 s: {empty:#?}");
        l2.get_block_number().await.unwrap();
        call_unknown_method(&client, addrs.l2_rpc).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every series an alert reads is exported, and Prometheus evaluates every rule without error.
    let (rule_names, series) = alert_rules();
    for name in &series {
        let data = query(&client, prometheus_addr, &format!(r#"{{__name__="{name}"}}"#)).await;
        assert!(has_data(&data), "alerts.yml reads {name}, which nothing exports");
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

    // A healthy rollup raises none of them, not even pending.
    let alerts = query(&client, prometheus_addr, "ALERTS").await;
    assert!(!has_data(&alerts), "alerts on a healthy rollup: {alerts}");
    rollup.assert_running();
}
