/**
 * The dashboard's page and style sheet, served by src/control/http-api.ts at / and
 * /assets/app.css. The page is static: everything live comes from /api/* through
 * dashboard/app.ts (compiled to app.js, served at /assets/app.js); charts are uPlot, served from
 * node_modules. No inline script or style, so the page runs under a strict
 * Content-Security-Policy ("default-src 'self'").
 */

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tslvs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/uPlot.iife.min.js"></script>
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<header>
  <h1>tslvs</h1>
  <div id="facts" data-testid="facts"></div>
  <form id="unlock" autocomplete="off">
    <span id="mode" class="badge ro" data-testid="mode">read-only</span>
    <input id="token" type="password" placeholder="token to make changes" aria-label="token" data-testid="token">
    <button id="unlock-btn" type="submit" data-testid="unlock">Unlock</button>
    <button id="lock-btn" type="button" hidden data-testid="lock">Lock</button>
  </form>
</header>
<main>
  <section class="charts">
    <figure><figcaption>New connections per second</figcaption><div id="chart-cps" data-testid="chart-cps"></div></figure>
    <figure><figcaption>Bytes per second</figcaption><div id="chart-bytes" data-testid="chart-bytes"></div></figure>
  </section>
  <section>
    <h2>Virtual services</h2>
    <table id="services" data-testid="services">
      <thead><tr>
        <th>Service / real server</th><th>Scheduler / forward</th><th class="num">Weight</th><th class="num">Active</th>
        <th class="num">Inactive</th><th class="num">Conn/s</th><th class="num">In B/s</th><th class="num">Out B/s</th>
        <th>Health</th><th class="actions">Change</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <p id="empty" hidden>No virtual services. Add one with <code>tslvsadm -A</code>.</p>
  </section>
  <section>
    <h2>Connections <span id="conn-count" class="muted"></span></h2>
    <table id="conns" data-testid="conns">
      <thead><tr><th>Pro</th><th>Expires</th><th>State</th><th>Source</th><th>Virtual</th><th>Destination</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<footer><span id="status" data-testid="status">connecting…</span> <span id="message" data-testid="message" role="status"></span></footer>
</body>
</html>
`;

export const APP_CSS = `
:root { --fg: #1d2430; --muted: #6b7482; --line: #dde2e8; --bg: #f7f9fb; --ok: #1b7f3b; --bad: #b3261e; --warn: #9a6700; --accent: #2458b3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 24px; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 16px; margin: 18px 0 8px; }
#facts { display: flex; flex-wrap: wrap; gap: 6px 18px; color: var(--muted); }
#facts b { color: var(--fg); font-weight: 600; }
#unlock { margin-left: auto; display: flex; gap: 6px; align-items: center; }
#unlock input { width: 16em; }
main { padding: 0 20px 20px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; margin-top: 16px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: #eef2f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.svc td { background: #f1f5fa; font-weight: 600; }
tr.dest td:first-child { padding-left: 24px; font-family: ui-monospace, monospace; }
tr.svc td:first-child { font-family: ui-monospace, monospace; }
.badge { padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.ro { background: #eceff3; color: var(--muted); }
.badge.rw { background: #e3f1e7; color: var(--ok); }
.up { color: var(--ok); font-weight: 600; }
.down { color: var(--bad); font-weight: 600; }
.none { color: var(--muted); }
.drained td { color: var(--warn); }
.muted { color: var(--muted); font-weight: normal; }
td.actions input { width: 5em; }
td.actions button { margin-left: 4px; }
#conns td { font-family: ui-monospace, monospace; font-size: 13px; }
footer { padding: 8px 20px; color: var(--muted); border-top: 1px solid var(--line); background: #fff; }
#message.error { color: var(--bad); }
#message.ok { color: var(--ok); }
`;
