// Several `berth` nodes as one registry, deployed as docs/deployment.md
// describes: a PostgreSQL database of their own, one Garage bucket, and
// Debian's haproxy in front (round robin, health-checked). For specs that
// drive the portal through a load balancer; the Rust harness in
// server/tests/common/cluster.rs is the same layout.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { freePort } from "./net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repoRoot = resolve(__dirname, "..", "..");
const ADMIN_PASSWORD = "E2e-Cluster-Passw0rd";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/api/v2.0/health`, { signal: AbortSignal.timeout(2_000) });
    return response.ok && (await response.json()).status === "healthy";
  } catch {
    return false;
  }
}

/** One runtime command to haproxy; its answer ("" while it is not up). */
function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((ok) => {
    let answer = "";
    const connection = createConnection(socket);
    connection.on("connect", () => connection.write(command));
    connection.on("data", (data) => (answer += data.toString()));
    connection.on("end", () => ok(answer));
    connection.on("error", () => ok(""));
  });
}

export interface ClusterNode {
  base: string;
  process: ChildProcess;
}

export interface Cluster {
  /** The load balancer's address: what the browser uses. */
  base: string;
  nodes: ClusterNode[];
  adminPassword: string;
  stop(): Promise<void>;
}

function psql(adminUrl: string, sql: string) {
  const done = spawnSync("psql", [adminUrl, "-X", "-q", "-c", sql], { encoding: "utf8" });
  if (done.status !== 0) throw new Error(`psql ${sql}: ${done.stderr}`);
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Stops every process (SIGTERM, then SIGKILL after 10 s), newest first. */
async function stopAll(children: ChildProcess[]) {
  for (const child of [...children].reverse()) {
    if (running(child)) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const killed = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killed);
    }
  }
}

export async function startCluster(count: number): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "berth-e2e-cluster-"));
  const children: ChildProcess[] = [];
  // A database of the spec's own, dropped at the end.
  const adminUrl = process.env.BERTH_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const database = `berth_e2e_${process.pid}_${randomBytes(4).toString("hex")}`;
  psql(adminUrl, `CREATE DATABASE ${database}`);
  const tearDown = async () => {
    await stopAll(children);
    psql(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { base, nodes } = await launch(count, dir, children, adminUrl, database);
    return { base, nodes, adminPassword: ADMIN_PASSWORD, stop: tearDown };
  } catch (error) {
    // Nothing started for a cluster that did not come up is left behind.
    await tearDown();
    throw error;
  }
}

async function launch(
  count: number,
  dir: string,
  children: ChildProcess[],
  adminUrl: string,
  database: string,
): Promise<{ base: string; nodes: ClusterNode[] }> {
  const binary = process.env.BERTH_BIN ?? join(repoRoot, "target", "debug", "berth");
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${database}`;

  // Garage with one bucket and one key.
  const [s3Port, rpcPort, lbPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, "garage.toml"),
    `metadata_dir = "${join(dir, "garage", "meta")}"\ndata_dir = "${join(dir, "garage", "data")}"\n` +
      `db_engine = "sqlite"\nreplication_factor = 1\nrpc_bind_addr = "127.0.0.1:${rpcPort}"\n` +
      `rpc_public_addr = "127.0.0.1:${rpcPort}"\nrpc_secret = "${randomBytes(32).toString("hex")}"\n\n` +
      `[s3_api]\ns3_region = "garage"\napi_bind_addr = "127.0.0.1:${s3Port}"\nroot_domain = ".s3.garage.localhost"\n`,
  );
  const keys = { id: "GKberthe2ecluster1", secret: "berth-e2e-cluster-secret-0123456789" };
  const garageLog = openSync(join(dir, "garage.log"), "a");
  children.push(
    spawn("garage", ["-c", join(dir, "garage.toml"), "server", "--single-node", "--default-bucket"], {
      env: {
        ...process.env,
        GARAGE_DEFAULT_ACCESS_KEY: keys.id,
        GARAGE_DEFAULT_SECRET_KEY: keys.secret,
        GARAGE_DEFAULT_BUCKET: "berth",
        RUST_LOG: "garage=warn",
      },
      stdio: ["ignore", garageLog, garageLog],
    }),
  );

  const base = `http://127.0.0.1:${lbPort}`;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("BERTH_") && !key.startsWith("LEPTOS_")) env[key] = value;
  }
  Object.assign(env, {
    BERTH_DATABASE_URL: databaseUrl.toString(),
    BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
    BERTH_EXTERNAL_URL: base,
    BERTH_TRUSTED_PROXIES: "127.0.0.1",
    BERTH_SITE_ROOT: process.env.BERTH_SITE_ROOT ?? join(repoRoot, "target", "site"),
    BERTH_LOG_LEVEL: "warn",
    BERTH_STORAGE: "s3",
    BERTH_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    BERTH_S3_REGION: "garage",
    BERTH_S3_BUCKET: "berth",
    BERTH_S3_ACCESS_KEY_ID: keys.id,
    BERTH_S3_SECRET_ACCESS_KEY: keys.secret,
  });

  // Starts node n; Garage may still be creating its bucket the first time,
  // so a node that stops before it is healthy is started again.
  const startNode = async (n: number): Promise<ClusterNode> => {
    const port = await freePort();
    const nodeBase = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const log = openSync(join(dir, `node${n}.log`), "a");
      const child = spawn(binary, ["serve"], {
        cwd: repoRoot,
        env: { ...env, BERTH_LISTEN: `127.0.0.1:${port}`, BERTH_DATA_DIR: join(dir, `node${n}`) },
        stdio: ["ignore", log, log],
      });
      children.push(child);
      while (running(child) && Date.now() < deadline) {
        if (await healthy(nodeBase)) return { base: nodeBase, process: child };
        await sleep(200);
      }
      await sleep(500);
    }
    throw new Error(`node${n} did not become healthy (see ${dir}/node${n}.log)`);
  };
  const nodes = [await startNode(0)];
  for (const node of await Promise.all(Array.from({ length: count - 1 }, (_, n) => startNode(n + 1)))) {
    nodes.push(node);
  }

  const socket = join(dir, "haproxy.sock");
  const servers = nodes.map((node, n) => `  server node${n} ${new URL(node.base).host} check\n`).join("");
  writeFileSync(
    join(dir, "haproxy.cfg"),
    `global\n  stats socket ${socket} mode 600 level admin\n\ndefaults\n  mode http\n  timeout connect 2s\n` +
      `  timeout client 120s\n  timeout server 120s\n  option forwardfor\n\nfrontend portal\n` +
      `  bind 127.0.0.1:${lbPort}\n  default_backend berth\n\nbackend berth\n  balance roundrobin\n` +
      `  option httpchk GET /api/v2.0/health\n  http-check expect rstring '^\\{"status":"healthy"'\n` +
      `  default-server inter 300ms fall 2 rise 1\n${servers}`,
  );
  const haproxyLog = openSync(join(dir, "haproxy.log"), "a");
  children.push(spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", haproxyLog, haproxyLog] }));
  // Every node up in haproxy's own view, so requests reach all of them.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await haproxyCommand(socket, "show servers state berth\n");
    const up = state.split("\n").filter((line) => !line.startsWith("#") && line.split(" ")[5] === "2");
    if (up.length === count) break;
    if (Date.now() > deadline) throw new Error(`haproxy sees ${up.length} of ${count} nodes up`);
    await sleep(100);
  }

  return { base, nodes };
}
