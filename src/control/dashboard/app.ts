/// <reference lib="dom" />
/**
 * The dashboard in the browser (compiled to app.js, served at /assets/app.js). Every second it
 * reads /api/table, updates the services table in place (rows keyed by service and real
 * server, so an input being typed into survives the refresh) and appends the estimator's rates
 * to two uPlot charts; every other second it reads a sample of /api/conns. With the daemon's
 * token (Unlock) each real server gets a weight field and a Drain button that POST to
 * /api/weight; without it the page is read-only and the API would answer 403.
 * Runs in the browser only: no imports, DOM APIs, and uPlot as the global of uPlot.iife.min.js.
 */
import type { ConnWire, DestSnapshot, ServiceSnapshot, TableSnapshot } from '../protocol.js';

type UPlotCtor = typeof import('uplot');
type UPlot = InstanceType<UPlotCtor>;
type UPlotOptions = import('uplot').Options;
declare const uPlot: UPlotCtor;

interface TableResponse {
  time: number;
  table: TableSnapshot;
  writable: boolean;
  facts: { version: string; dataplane: string; connCount: number; connLimit: number; changes: number; activeFlows: number; drops: Record<string, number> };
}

interface ApiErrorBody {
  error?: { code?: string; message?: string; hint?: string };
}

const POLL_MS = 1000;
const HISTORY = 300;
const TOKEN_KEY = 'tslvs-token';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let unlocked = false;
let writable = true;

// ---- formatting ------------------------------------------------------------------------

function svcKey(s: ServiceSnapshot): string {
  return s.fwmark ? `fwm|${s.af}|${s.fwmark}` : `${s.protocol}|${s.addr}|${s.port}`;
}

function destKey(d: DestSnapshot): string {
  return `${d.addr}|${d.port}`;
}

function hostPort(af: number, addr: string, port: number): string {
  return `${af === 10 ? `[${addr}]` : addr}:${port}`;
}

function protoName(p: number): string {
  return p === 6 ? 'TCP' : p === 17 ? 'UDP' : p === 132 ? 'SCTP' : p === 0 ? 'IP' : `IP_${p}`;
}

function svcName(s: ServiceSnapshot): string {
  return s.fwmark ? `FWM ${s.fwmark}` : `${protoName(s.protocol)} ${hostPort(s.af, s.addr, s.port)}`;
}

function fwdName(fwd: number): string {
  return ['Masq', 'Local', 'Tunnel', 'Route'][fwd & 3] ?? 'Masq';
}

function human(n: number, unit = ''): string {
  if (n < 1000) return `${n}${unit ? ` ${unit}` : ''}`;
  const units = ['k', 'M', 'G', 'T', 'P'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}${unit}`;
}

function mmss(s: number): string {
  const t = Math.max(0, Math.floor(s));
  return `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

function message(text: string, kind: 'ok' | 'error' | '' = ''): void {
  const m = $('message');
  m.textContent = text;
  m.className = kind;
}

// ---- charts ----------------------------------------------------------------------------

const times: number[] = [];
const cps: number[] = [];
const inbps: number[] = [];
const outbps: number[] = [];
let cpsChart: UPlot | null = null;
let bytesChart: UPlot | null = null;

function chartWidth(id: string): number {
  return Math.max(300, $(id).clientWidth - 4);
}

function makeChart(id: string, series: UPlotOptions['series'], data: number[][]): UPlot {
  const opts: UPlotOptions = {
    width: chartWidth(id),
    height: 200,
    series,
    axes: [{}, { size: 60, values: (_u, ticks) => ticks.map((t) => human(t)) }],
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    legend: { live: true },
  };
  return new uPlot(opts, data as unknown as import('uplot').AlignedData, $(id));
}

function updateCharts(t: number, tot: TableSnapshot['totals']): void {
  times.push(t / 1000);
  cps.push(tot.cps);
  inbps.push(tot.inbps);
  outbps.push(tot.outbps);
  if (times.length > HISTORY) {
    times.shift();
    cps.shift();
    inbps.shift();
    outbps.shift();
  }
  if (typeof uPlot === 'undefined') return;
  if (!cpsChart) {
    cpsChart = makeChart('chart-cps', [{}, { label: 'conn/s', stroke: '#2458b3', fill: 'rgba(36,88,179,0.08)', width: 2 }], [times, cps]);
    bytesChart = makeChart('chart-bytes', [{}, { label: 'in B/s', stroke: '#1b7f3b', width: 2 }, { label: 'out B/s', stroke: '#b35c24', width: 2 }], [times, inbps, outbps]);
    return;
  }
  cpsChart.setData([times, cps] as unknown as import('uplot').AlignedData);
  bytesChart?.setData([times, inbps, outbps] as unknown as import('uplot').AlignedData);
}

window.addEventListener('resize', () => {
  cpsChart?.setSize({ width: chartWidth('chart-cps'), height: 200 });
  bytesChart?.setSize({ width: chartWidth('chart-bytes'), height: 200 });
});

// ---- services table --------------------------------------------------------------------

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  actions: HTMLTableCellElement;
  actionsFor: boolean | null;
}

const rows = new Map<string, Row>();

function makeRow(kind: 'svc' | 'dest', key: string): Row {
  const tr = el('tr', kind);
  tr.dataset.key = key;
  const cells: HTMLTableCellElement[] = [];
  const classes = ['', '', 'num weight', 'num active', 'num inactive', 'num cps', 'num inbps', 'num outbps', 'health'];
  for (const c of classes) {
    const td = el('td', c);
    tr.append(td);
    cells.push(td);
  }
  const actions = el('td', 'actions');
  tr.append(actions);
  return { tr, cells, actions, actionsFor: null };
}

function destActions(row: Row, s: ServiceSnapshot, d: DestSnapshot): void {
  const want = unlocked;
  if (row.actionsFor === want) return;
  row.actionsFor = want;
  row.actions.replaceChildren();
  if (!want) return;
  const input = el('input');
  input.type = 'number';
  input.min = '0';
  input.value = String(d.weight);
  input.setAttribute('aria-label', `weight of ${hostPort(d.af, d.addr, d.port)}`);
  input.dataset.testid = 'weight-input';
  const set = el('button', '', 'Set');
  set.dataset.testid = 'set-weight';
  const drain = el('button', '', 'Drain');
  drain.dataset.testid = 'drain';
  const id = { af: s.af, protocol: s.protocol, addr: s.addr, port: s.port, fwmark: s.fwmark };
  const target = { af: d.af, addr: d.addr, port: d.port };
  set.addEventListener('click', () => void changeWeight(id, target, Number(input.value)));
  drain.addEventListener('click', () => void changeWeight(id, target, 0));
  row.actions.append(input, set, drain);
}

function healthText(d: DestSnapshot): [string, string] {
  if (!d.health) return ['no check', 'none'];
  const lat = typeof d.health.latencyMs === 'number' ? ` ${d.health.latencyMs.toFixed(1)} ms` : '';
  return d.health.up ? [`up${lat}`, 'up'] : [`down (${d.health.lastResult})`, 'down'];
}

function renderServices(t: TableSnapshot): void {
  const body = ($('services') as HTMLTableElement).tBodies[0];
  const order: HTMLTableRowElement[] = [];
  const seen = new Set<string>();
  for (const s of t.services) {
    const sk = `s|${svcKey(s)}`;
    seen.add(sk);
    let r = rows.get(sk);
    if (!r) {
      r = makeRow('svc', sk);
      rows.set(sk, r);
    }
    let active = 0;
    let inact = 0;
    for (const d of s.dests) {
      active += d.activeConns;
      inact += d.inactConns;
    }
    const flags = [s.sched || 'none', s.flags & 1 ? `persistent ${s.timeoutS}` : '', s.flags & 4 ? 'ops' : ''].filter(Boolean).join(' ');
    const vals = [svcName(s), flags, '', String(active), String(inact), human(s.stats.cps), human(s.stats.inbps), human(s.stats.outbps), ''];
    vals.forEach((v, i) => setText(r!.cells[i], v));
    order.push(r.tr);
    // Real servers sorted as ipvsadm -L sorts them (by address text here), stable across refreshes.
    const dests = [...s.dests].sort((a, b) => (destKey(a) < destKey(b) ? -1 : destKey(a) > destKey(b) ? 1 : 0));
    for (const d of dests) {
      const dk = `d|${svcKey(s)}|${destKey(d)}`;
      seen.add(dk);
      let dr = rows.get(dk);
      if (!dr) {
        dr = makeRow('dest', dk);
        dr.tr.dataset.dest = hostPort(d.af, d.addr, d.port);
        dr.tr.dataset.service = svcName(s);
        rows.set(dk, dr);
      }
      const [htext, hclass] = healthText(d);
      const dv = [`→ ${hostPort(d.af, d.addr, d.port)}`, fwdName(d.fwd), String(d.weight), String(d.activeConns), String(d.inactConns),
        human(d.stats.cps), human(d.stats.inbps), human(d.stats.outbps), htext];
      dv.forEach((v, i) => setText(dr!.cells[i], v));
      dr.cells[8].className = `health ${hclass}`;
      dr.tr.classList.toggle('drained', d.weight === 0);
      destActions(dr, s, d);
      order.push(dr.tr);
    }
  }
  for (const [k, r] of rows) {
    if (!seen.has(k)) {
      r.tr.remove();
      rows.delete(k);
    }
  }
  // Reorder only when needed: moving a row that holds the focused input would blur it.
  const current = Array.from(body.rows);
  if (current.length !== order.length || current.some((tr, i) => tr !== order[i])) body.replaceChildren(...order);
  $('empty').hidden = t.services.length > 0;
}

function renderFacts(r: TableResponse): void {
  const f = r.facts;
  const drops = Object.values(f.drops).reduce((a, b) => a + b, 0);
  const facts = $('facts');
  facts.replaceChildren();
  const add = (label: string, value: string, id: string) => {
    const span = el('span');
    span.dataset.testid = id;
    span.append(`${label} `, el('b', '', value));
    facts.append(span);
  };
  add('dataplane', f.dataplane, 'fact-dataplane');
  add('services', String(r.table.services.length), 'fact-services');
  add('connections', `${f.connCount} / ${human(f.connLimit)}`, 'fact-conns');
  add('conn/s', human(r.table.totals.cps), 'fact-cps');
  add('drops', String(drops), 'fact-drops');
  add('changes', String(f.changes), 'fact-changes');
  add('version', f.version, 'fact-version');
}

// ---- connections -----------------------------------------------------------------------

function renderConns(total: number, conns: ConnWire[]): void {
  const body = ($('conns') as HTMLTableElement).tBodies[0];
  const out: HTMLTableRowElement[] = [];
  for (const c of conns) {
    const tr = el('tr');
    const v = c.template && c.fwmark ? `FWM ${c.fwmark}` : hostPort(c.af, c.vaddr, c.vport);
    const daf = c.daddr.includes(':') ? 10 : 2;
    for (const text of [protoName(c.protocol), mmss(c.expiresS), c.state, hostPort(c.af, c.caddr, c.cport), v, hostPort(daf, c.daddr, c.dport)]) {
      tr.append(el('td', '', text));
    }
    out.push(tr);
  }
  body.replaceChildren(...out);
  setText($('conn-count'), conns.length < total ? `(${conns.length} of ${total})` : `(${total})`);
}

// ---- API -------------------------------------------------------------------------------

function authHeaders(): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function errorText(res: Response): Promise<string> {
  try {
    const b = (await res.json()) as ApiErrorBody;
    if (b.error?.message) return `${b.error.message}${b.error.hint ? `; ${b.error.hint}` : ''}`;
  } catch {
    // not JSON
  }
  return `HTTP ${res.status}`;
}

async function changeWeight(svc: object, dest: object, weight: number): Promise<void> {
  if (!Number.isInteger(weight) || weight < 0) {
    message(`Invalid weight "${weight}": give an integer from 0`, 'error');
    return;
  }
  const res = await fetch('/api/weight', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders() },
    body: JSON.stringify({ svc, dest, weight }),
  });
  if (res.ok) {
    message(weight === 0 ? 'Drained: no new connections go to this real server' : `Weight set to ${weight}`, 'ok');
    void poll();
  } else {
    if (res.status === 403) setUnlocked(false);
    message(await errorText(res), 'error');
  }
}

function setUnlocked(on: boolean): void {
  unlocked = on;
  if (!on) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
  }
  const mode = $('mode');
  mode.textContent = on ? 'changes allowed' : 'read-only';
  mode.className = `badge ${on ? 'rw' : 'ro'}`;
  $<HTMLInputElement>('token').hidden = on || !writable;
  $<HTMLButtonElement>('unlock-btn').hidden = on || !writable;
  $<HTMLButtonElement>('lock-btn').hidden = !on;
  for (const r of rows.values()) r.actionsFor = null;
  if (lastTable) renderServices(lastTable);
}

async function unlock(candidate: string): Promise<void> {
  const res = await fetch('/api/auth', { headers: { authorization: `Bearer ${candidate}` } });
  if (res.ok) {
    token = candidate;
    sessionStorage.setItem(TOKEN_KEY, candidate);
    setUnlocked(true);
    message('Unlocked: changes are allowed from this page', 'ok');
  } else {
    setUnlocked(false);
    message(await errorText(res), 'error');
  }
}

let lastTable: TableSnapshot | null = null;
let ticks = 0;

async function poll(): Promise<void> {
  try {
    const res = await fetch('/api/table', { cache: 'no-store' });
    if (!res.ok) throw new Error(await errorText(res));
    const r = (await res.json()) as TableResponse;
    lastTable = r.table;
    if (writable !== r.writable) {
      writable = r.writable;
      setUnlocked(unlocked && writable);
    }
    renderFacts(r);
    renderServices(r.table);
    updateCharts(r.time, r.table.totals);
    if (ticks++ % 2 === 0) {
      const c = await fetch('/api/conns?limit=50', { cache: 'no-store' });
      if (c.ok) {
        const j = (await c.json()) as { total: number; conns: ConnWire[] };
        renderConns(j.total, j.conns);
      }
    }
    const st = $('status');
    st.textContent = `updated ${new Date(r.time).toLocaleTimeString()}`;
    st.dataset.updated = String(r.time);
  } catch (err) {
    $('status').textContent = `cannot reach the daemon: ${(err as Error).message}`;
  }
}

$('unlock').addEventListener('submit', (e) => {
  e.preventDefault();
  const v = $<HTMLInputElement>('token').value.trim();
  if (v) void unlock(v);
});
$('lock-btn').addEventListener('click', () => {
  setUnlocked(false);
  message('Locked: the page is read-only');
});

// A token in the fragment (#token=...) unlocks once; it is removed from the address bar.
const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (fromHash) {
  history.replaceState(null, '', location.pathname + location.search);
  void unlock(decodeURIComponent(fromHash[1]));
} else if (token) {
  void unlock(token);
}

void poll();
setInterval(() => void poll(), POLL_MS);
