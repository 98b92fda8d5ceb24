/**
 * What keepalived decides from check results, as a pure state machine stepped with nowMs.
 * Follows keepalived 2.2.7: the per-checker epilogs (check_tcp.c tcp_epilog, check_udp.c and
 * check_ping.c *_epilog, check_dns.c dns_final, check_smtp.c smtp_final, check_misc.c
 * misc_check_child_thread, check_http.c epilog/timeout_epilog, trackers/track_file.c
 * process_update_checker_track_file_status) and the server logic of check/ipwrapper.c
 * (init_service_vs, update_svr_checker_state, perform_svr_state, update_quorum_state,
 * perform_quorum_state, update_svr_wgt, clear_services) with ipvswrapper.c ipvs_cmd's
 * inhibit_on_failure rules.
 *
 * Owns: per checker is_up/has_run/retry_it/cur_weight (+ URL cursor, last exit code), per real
 * server alive/set/failed-checker count/effective weight, per virtual server the quorum state
 * and the sorry server's alive/set. Reads no clock and no randomness: every step gets nowMs.
 * Output is data: IPVS actions on (virtual server, server) pairs, notify scripts to run, and
 * keepalived's own log lines, so a test can compare them with what keepalived logged.
 */

/** How a checker's result feeds back: each keepalived checker has its own epilog. */
export type EpilogStyle = 'tcp' | 'udp' | 'dns' | 'smtp' | 'misc' | 'http' | 'file' | 'none';

export interface CheckerSpec {
  readonly style: EpilogStyle;
  /** "TCP_CHECK", "HTTP_GET"... for log lines. */
  readonly kind: string;
  readonly retry: number;
  readonly delayLoopMs: number;
  readonly delayBeforeRetryMs: number;
  readonly alpha: boolean;
  /** HTTP_GET/SSL_GET: number of URLs (1 for the others). */
  readonly urls: number;
  readonly fastRecovery: boolean;
  /** MISC_CHECK misc_dynamic. */
  readonly dynamic: boolean;
  /** FILE_CHECK weight and reverse. */
  readonly fileWeight: number;
  readonly fileReverse: boolean;
}

export interface RealServerSpec {
  /** "[198.51.100.11]:tcp:80", keepalived's FMT_RS. */
  readonly key: string;
  readonly weight: number;
  readonly inhibit: boolean;
  readonly checkers: readonly CheckerSpec[];
}

export interface VirtualServerSpec {
  /** keepalived's FMT_VS. */
  readonly key: string;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly omega: boolean;
  readonly sorry: { readonly key: string; readonly inhibit: boolean; readonly isRealServer: boolean } | null;
  readonly realServers: readonly RealServerSpec[];
}

export interface VerdictSpec {
  readonly virtualServers: readonly VirtualServerSpec[];
  /** global_defs rs_init_notifies. */
  readonly rsInitNotifies?: boolean;
}

export type ServerRef = { readonly kind: 'rs'; readonly rs: number } | { readonly kind: 'sorry' };

export type Action =
  | { readonly type: 'add-service'; readonly vs: number }
  | { readonly type: 'del-service'; readonly vs: number }
  | { readonly type: 'add-dest'; readonly vs: number; readonly server: ServerRef; readonly weight: number }
  | { readonly type: 'edit-dest'; readonly vs: number; readonly server: ServerRef; readonly weight: number }
  | { readonly type: 'del-dest'; readonly vs: number; readonly server: ServerRef }
  /** Run a script: notify_up/notify_down of a real server, quorum_up/quorum_down of a virtual server. */
  | { readonly type: 'notify'; readonly vs: number; readonly rs: number | null; readonly script: 'notify_up' | 'notify_down' | 'quorum_up' | 'quorum_down' }
  | { readonly type: 'log'; readonly text: string };

/**
 * What a reload keeps: for each virtual server of the new configuration the index of the same
 * one in the old (-1: new), likewise per real server and per checker; `sorry[vs]` is true when
 * the sorry server is the same one.
 */
export interface VerdictCarry {
  readonly vs: readonly number[];
  readonly rs: readonly (readonly number[])[];
  readonly ck: readonly (readonly (readonly number[])[])[];
  readonly sorry: readonly boolean[];
}

/** The result of one finished probe. */
export interface ProbeOutcome {
  readonly ok: boolean;
  /** MISC_CHECK: the script's exit status (null when killed by a signal or timed out). */
  readonly exitStatus?: number | null;
}

export interface Step {
  readonly actions: readonly Action[];
  /** When to run this checker next, counted from when the probe finished (MISC: from when it started). */
  readonly nextDelayMs: number;
  /** HTTP_GET/SSL_GET: which URL the next probe fetches. */
  readonly nextUrl: number;
}

/** IPVS_WEIGHT_LIMIT and IPVS_WEIGHT_FAULT (keepalived/include/ip_vs.h). */
export const IPVS_WEIGHT_LIMIT = 2147483647;
export const IPVS_WEIGHT_FAULT = -2147483648;

interface CheckerState {
  isUp: boolean;
  hasRun: boolean;
  retryIt: number;
  curWeight: number;
  url: number;
  failedUrl: number;
  lastExitCode: number;
  fileStatus: number;
  lastChangeMs: number | null;
}

interface RsState {
  alive: boolean;
  set: boolean;
  numFailed: number;
  effectiveWeight: number;
}

interface VsState {
  quorumUp: boolean;
  sorryAlive: boolean;
  sorrySet: boolean;
  sorryNumFailed: number;
}

/** keepalived/check/ipvswrapper.c real_weight: clamp the effective weight into IPVS's range. */
export function realWeight(w: number): number {
  return w < 0 ? 0 : w > IPVS_WEIGHT_LIMIT ? IPVS_WEIGHT_LIMIT : w;
}

function weightRange(w: number): number {
  return w < IPVS_WEIGHT_FAULT ? IPVS_WEIGHT_FAULT : w > IPVS_WEIGHT_LIMIT ? IPVS_WEIGHT_LIMIT : w;
}

export class HealthVerdict {
  readonly spec: VerdictSpec;
  readonly #vs: VsState[];
  readonly #rs: RsState[][];
  readonly #ck: CheckerState[][][];
  #out: Action[] = [];
  #started = false;

  constructor(spec: VerdictSpec) {
    this.spec = spec;
    this.#vs = spec.virtualServers.map(() => ({ quorumUp: false, sorryAlive: false, sorrySet: false, sorryNumFailed: 0 }));
    this.#rs = spec.virtualServers.map((v) => v.realServers.map((r) => ({ alive: false, set: false, numFailed: 0, effectiveWeight: r.weight })));
    this.#ck = spec.virtualServers.map((v) => v.realServers.map((r) => r.checkers.map((c) => ({
      isUp: true, hasRun: c.style === 'file', retryIt: c.retry, curWeight: 0, url: 0, failedUrl: -1, lastExitCode: 0, fileStatus: 0, lastChangeMs: null,
    }))));
  }

  /**
   * Startup (validate_check_config's alpha handling + init_services). `fileValues` gives the
   * current value of each FILE_CHECK's file, indexed [vs][rs][checker] (missing = 0).
   */
  start(nowMs: number, fileValues?: (vs: number, rs: number, ck: number) => number): readonly Action[] {
    if (this.#started) throw new Error('HealthVerdict.start called twice');
    this.#started = true;
    this.#out = [];
    this.spec.virtualServers.forEach((_, vi) => this.#startVs(vi, nowMs, fileValues));
    // check_data.c set_quorum_states: nothing is alive yet.
    this.spec.virtualServers.forEach((v, vi) => {
      this.#vs[vi].quorumUp = this.#liveWeight(vi) >= v.quorum + v.hysteresis;
    });
    this.spec.virtualServers.forEach((v, vi) => this.#initService(vi, nowMs));
    return this.#flush();
  }

  #initService(vi: number, nowMs: number): void {
    const v = this.spec.virtualServers[vi];
    this.#emit({ type: 'add-service', vs: vi });
    v.realServers.forEach((r, ri) => {
      const rs = this.#rs[vi][ri];
      if ((!rs.numFailed && !rs.alive) || (r.inhibit && !rs.set)) {
        this.#ipvs('add', vi, { kind: 'rs', rs: ri });
        if (!rs.numFailed) {
          rs.alive = true;
          if (this.spec.rsInitNotifies) this.#emit({ type: 'notify', vs: vi, rs: ri, script: 'notify_up' });
        }
      }
    });
    this.#updateQuorum(vi, true);
    const vs = this.#vs[vi];
    if (v.sorry && v.sorry.inhibit && !vs.sorrySet) {
      if (v.sorry.isRealServer) vs.sorrySet = true;
      else {
        vs.sorryNumFailed = 1;
        this.#ipvs('add', vi, { kind: 'sorry' });
        vs.sorryNumFailed = 0;
      }
    }
    void nowMs;
  }

  /**
   * Reload: start from the state of `prev` (the verdict of the previous configuration) for what
   * `carry` matches, instead of from nothing. Follows keepalived 2.2.7's reload
   * (ipwrapper.c clear_diff_services, clear_diff_rs, migrate_checkers, clear_diff_s_srv):
   * a matched virtual server keeps its quorum state; a matched real server keeps alive/in-table
   * and its matched checkers keep is_up, has_run, retries, URL cursor and dynamic weights; a
   * new checker on a server that has a failed checker (or is down with nothing run) starts
   * down if alpha and needs only one failure; the server then goes up when no checker is
   * failed, down when one is. Weight changes from the new configuration are applied as an
   * edit of an alive server. New virtual and real servers start as at a first start.
   *
   * Where tslvs differs, on purpose: a matched server whose checkers are now failed is taken
   * down (keepalived only removes it from IPVS and leaves it "alive", so it never comes back
   * until another transition); a weight change in the file takes effect (keepalived 2.2.7
   * copies the old effective weight and ignores the new one).
   *
   * Returns the actions that move the previous table (restricted to what was carried) to the
   * new one, relative to the `set` flags carried over.
   */
  startFrom(prev: HealthVerdict, carry: VerdictCarry, nowMs: number, fileValues?: (vs: number, rs: number, ck: number) => number): readonly Action[] {
    if (this.#started) throw new Error('HealthVerdict.start called twice');
    this.#started = true;
    this.#out = [];
    this.spec.virtualServers.forEach((v, vi) => {
      const oi = carry.vs[vi] ?? -1;
      if (oi < 0) {
        this.#log(`Adding Virtual Server ${v.key}`);
        this.#startVs(vi, nowMs, fileValues);
        this.#vs[vi].quorumUp = this.#liveWeight(vi) >= v.quorum + v.hysteresis;
        this.#initService(vi, nowMs);
        return;
      }
      const vs = this.#vs[vi];
      const ovs = prev.#vs[oi];
      const oldPool = ovs.quorumUp || !prev.spec.virtualServers[oi].sorry || !ovs.sorryAlive;
      vs.quorumUp = ovs.quorumUp;
      const sorryCarried = !!v.sorry && carry.sorry[vi] === true;
      if (sorryCarried) {
        vs.sorryAlive = ovs.sorryAlive;
        vs.sorrySet = ovs.sorrySet;
        vs.sorryNumFailed = ovs.sorryNumFailed;
      }
      const pool = () => vs.quorumUp || !v.sorry || !vs.sorryAlive;
      v.realServers.forEach((r, ri) => {
        const ori = carry.rs[vi]?.[ri] ?? -1;
        if (ori < 0) this.#reloadNewRs(vi, ri, nowMs, pool(), fileValues);
        else this.#reloadRs(prev, vi, ri, oi, ori, carry.ck[vi]?.[ri] ?? [], pool(), oldPool, nowMs, fileValues);
      });
      this.#updateQuorum(vi, false);
      if (v.sorry && !sorryCarried) {
        if (!vs.quorumUp && !vs.sorryAlive) {
          this.#log(`${v.sorry.inhibit ? 'Enabling' : 'Adding'} sorry server ${v.sorry.key} to VS ${v.key}`);
          this.#poolState(vi, false);
          this.#ipvs('add', vi, { kind: 'sorry' });
          vs.sorryAlive = true;
        } else if (v.sorry.inhibit && !vs.sorrySet && !v.sorry.isRealServer) {
          vs.sorryNumFailed = 1;
          this.#ipvs('add', vi, { kind: 'sorry' });
          vs.sorryNumFailed = 0;
        }
      }
    });
    return this.#flush();
  }

  /** A real server new to a virtual server that was already there: init_service_rs for it. */
  #reloadNewRs(vi: number, ri: number, nowMs: number, inPool: boolean, fileValues?: (vs: number, rs: number, ck: number) => number): void {
    const r = this.spec.virtualServers[vi].realServers[ri];
    const rs = this.#rs[vi][ri];
    const ref: ServerRef = { kind: 'rs', rs: ri };
    this.#startRs(vi, ri, nowMs, fileValues);
    if (!rs.numFailed) {
      if (inPool) this.#ipvs('add', vi, ref);
      else if (r.inhibit) this.#addAtZero(vi, ri);
      rs.alive = true;
      if (this.spec.rsInitNotifies) this.#emit({ type: 'notify', vs: vi, rs: ri, script: 'notify_up' });
    } else if (r.inhibit) this.#ipvs('add', vi, ref);
  }

  /** A real server in both configurations (clear_diff_rs + migrate_checkers). */
  #reloadRs(prev: HealthVerdict, vi: number, ri: number, oi: number, ori: number, ckCarry: readonly number[], inPool: boolean, oldPool: boolean,
    nowMs: number, fileValues?: (vs: number, rs: number, ck: number) => number): void {
    const r = this.spec.virtualServers[vi].realServers[ri];
    const rs = this.#rs[vi][ri];
    const ors = prev.#rs[oi][ori];
    const ref: ServerRef = { kind: 'rs', rs: ri };
    rs.alive = ors.alive;
    rs.set = ors.set;
    let anyRun = false;
    r.checkers.forEach((c, ci) => {
      const oci = ckCarry[ci] ?? -1;
      const st = this.#ck[vi][ri][ci];
      if (oci < 0) {
        if (c.style !== 'file') return;
        st.fileStatus = this.#fileStatusOf(c, fileValues?.(vi, ri, ci) ?? 0);
        if (st.fileStatus === IPVS_WEIGHT_FAULT) {
          st.isUp = false;
          st.lastChangeMs = nowMs;
        } else if (c.fileWeight) st.curWeight = st.fileStatus;
        return;
      }
      const o = prev.#ck[oi][ori][oci];
      st.isUp = o.isUp;
      st.hasRun = o.hasRun;
      // migrate_checkers: retries already used up for the new count leave one more failure to go.
      st.retryIt = o.retryIt && c.retry ? (o.retryIt >= c.retry ? c.retry - 1 : o.retryIt) : 0;
      st.curWeight = o.curWeight;
      st.url = o.url < c.urls ? o.url : 0;
      st.failedUrl = o.failedUrl < c.urls ? o.failedUrl : -1;
      st.lastExitCode = o.lastExitCode;
      st.fileStatus = o.fileStatus;
      st.lastChangeMs = o.lastChangeMs;
      if (st.hasRun && c.style !== 'file') anyRun = true;
    });
    const failed = () => this.#ck[vi][ri].reduce((n, c) => n + (c.isUp ? 0 : 1), 0);
    if (failed() || (!rs.alive && !anyRun)) {
      // A failed server's new checkers: alpha ones start down, and one failure is enough.
      r.checkers.forEach((c, ci) => {
        const st = this.#ck[vi][ri][ci];
        if (st.hasRun || c.style === 'file') return;
        if (c.alpha) st.isUp = false;
        st.retryIt = c.retry;
      });
    }
    rs.numFailed = failed();
    const target = r.weight + this.#ck[vi][ri].reduce((s, c) => s + c.curWeight, 0);
    // update_svr_wgt from the old effective weight, so a weight change is one edit.
    rs.effectiveWeight = ors.effectiveWeight;
    if (!rs.alive && rs.set && !r.inhibit) this.#ipvs('del', vi, ref);
    if (!rs.numFailed && !rs.alive) {
      rs.effectiveWeight = target;
      this.#perform(vi, ri, true);
    } else if (rs.numFailed && rs.alive) {
      this.#perform(vi, ri, false);
      rs.effectiveWeight = target;
    } else if (!rs.alive) {
      rs.effectiveWeight = target;
      if (r.inhibit && !rs.set) this.#ipvs('add', vi, ref);
    } else if (inPool) {
      if (!oldPool || !rs.set) {
        rs.effectiveWeight = target;
        this.#ipvs('add', vi, ref);
      } else this.#updateWeight(vi, ri, target, false);
    } else {
      rs.effectiveWeight = target;
      if (rs.set && !r.inhibit) this.#ipvs('del', vi, ref);
      else if (!rs.set && r.inhibit) this.#addAtZero(vi, ri);
    }
  }

  /** An inhibited server out of the pool (quorum lost, sorry server in): in the table at weight 0. */
  #addAtZero(vi: number, ri: number): void {
    this.#rs[vi][ri].set = true;
    this.#emit({ type: 'add-dest', vs: vi, server: { kind: 'rs', rs: ri }, weight: 0 });
  }

  /** start()'s per-server part: alpha checkers down, FILE_CHECK values read, effective weight. */
  #startRs(vi: number, ri: number, nowMs: number, fileValues?: (vs: number, rs: number, ck: number) => number): void {
    const r = this.spec.virtualServers[vi].realServers[ri];
    r.checkers.forEach((c, ci) => {
      const st = this.#ck[vi][ri][ci];
      if (c.style === 'file') {
        const value = fileValues?.(vi, ri, ci) ?? 0;
        st.fileStatus = this.#fileStatusOf(c, value);
        if (st.fileStatus === IPVS_WEIGHT_FAULT) this.#setCheckerState(vi, ri, ci, false, nowMs);
        else if (c.fileWeight) st.curWeight = st.fileStatus;
        return;
      }
      if (c.alpha) this.#setCheckerState(vi, ri, ci, false, nowMs);
    });
    this.#rs[vi][ri].effectiveWeight = r.weight + this.#ck[vi][ri].reduce((s, c) => s + c.curWeight, 0);
  }

  #startVs(vi: number, nowMs: number, fileValues?: (vs: number, rs: number, ck: number) => number): void {
    this.spec.virtualServers[vi].realServers.forEach((_, ri) => this.#startRs(vi, ri, nowMs, fileValues));
  }

  /** One probe of checker [vs][rs][ck] finished. For HTTP the outcome is for URL `nextUrl` of the previous step. */
  probeDone(vi: number, ri: number, ci: number, outcome: ProbeOutcome, nowMs: number): Step {
    this.#out = [];
    const c = this.spec.virtualServers[vi].realServers[ri].checkers[ci];
    const st = this.#ck[vi][ri][ci];
    let delay = c.delayLoopMs;
    switch (c.style) {
      case 'tcp':
        if (outcome.ok || st.retryIt >= c.retry) {
          st.retryIt = 0;
          if (outcome.ok && (!st.isUp || !st.hasRun)) this.#checkerState(vi, ri, ci, true, nowMs);
          else if (!outcome.ok && (st.isUp || !st.hasRun)) this.#checkerState(vi, ri, ci, false, nowMs);
        } else {
          delay = c.delayBeforeRetryMs;
          st.retryIt++;
        }
        st.hasRun = true;
        break;
      case 'udp':
        if (outcome.ok || ((st.isUp || !st.hasRun) && st.retryIt >= c.retry)) {
          st.retryIt = 0;
          if (outcome.ok && (!st.isUp || !st.hasRun)) this.#checkerState(vi, ri, ci, true, nowMs);
          else if (!outcome.ok && (st.isUp || !st.hasRun)) this.#checkerState(vi, ri, ci, false, nowMs);
        } else if (st.isUp) {
          delay = c.delayBeforeRetryMs;
          st.retryIt++;
        }
        st.hasRun = true;
        break;
      case 'dns':
        if (!outcome.ok) {
          if (st.isUp || !st.hasRun) {
            if (st.retryIt < c.retry) {
              st.retryIt++;
              st.hasRun = true;
              return this.#step(c.delayBeforeRetryMs, 0);
            }
            this.#checkerState(vi, ri, ci, false, nowMs);
          }
        } else if (!st.isUp || !st.hasRun) this.#checkerState(vi, ri, ci, true, nowMs);
        st.retryIt = 0;
        break;
      case 'smtp':
        if (!outcome.ok) {
          if (++st.retryIt <= c.retry) return this.#step(c.delayBeforeRetryMs, 0);
          if (st.isUp || !st.hasRun) this.#checkerState(vi, ri, ci, false, nowMs);
        } else {
          st.retryIt = 0;
          if (!st.isUp || !st.hasRun) this.#checkerState(vi, ri, ci, true, nowMs);
          st.hasRun = true;
        }
        break;
      case 'misc':
        delay = this.#misc(vi, ri, ci, outcome, nowMs);
        break;
      case 'http':
        return this.#http(vi, ri, ci, outcome, nowMs);
      case 'file':
      case 'none':
        break;
    }
    return this.#step(delay, 0);
  }

  /** check_misc.c misc_check_child_thread. The next run is due `delay` after the script *started*. */
  #misc(vi: number, ri: number, ci: number, outcome: ProbeOutcome, nowMs: number): number {
    const c = this.spec.virtualServers[vi].realServers[ri].checkers[ci];
    const st = this.#ck[vi][ri][ci];
    const rs = this.#rs[vi][ri];
    const r = this.spec.virtualServers[vi].realServers[ri];
    const status = outcome.exitStatus ?? null;
    let success = false;
    let changeState = false;
    if (status !== null && (status === 0 || (c.dynamic && status >= 2 && status <= 255))) {
      if (status !== st.lastExitCode) {
        let effective = rs.effectiveWeight - st.curWeight;
        st.curWeight = status ? status - 2 - r.weight : 0;
        effective += st.curWeight;
        this.#updateWeight(vi, ri, effective, true);
        st.lastExitCode = status;
      }
      if (!st.isUp || !st.hasRun) { success = true; changeState = true; }
      st.retryIt = 0;
    } else if (st.isUp || !st.hasRun) {
      if (st.retryIt < c.retry) st.retryIt++;
      else {
        st.retryIt = 0;
        // keepalived only takes the dynamic weight back on an exit status, not when the script
        // was killed (timeout/signal); the weight then stays until the next status change.
        if (status !== null) {
          rs.effectiveWeight -= st.curWeight;
          st.curWeight = 0;
          st.lastExitCode = status;
        }
        changeState = true;
      }
    }
    if (changeState) {
      this.#checkerState(vi, ri, ci, success, nowMs);
      if (!success) st.curWeight = 0;
    }
    st.hasRun = true;
    return st.retryIt ? c.delayBeforeRetryMs : c.delayLoopMs;
  }

  /** check_http.c epilog + timeout_epilog over the URL list. */
  #http(vi: number, ri: number, ci: number, outcome: ProbeOutcome, nowMs: number): Step {
    const c = this.spec.virtualServers[vi].realServers[ri].checkers[ci];
    const st = this.#ck[vi][ri][ci];
    let method: 'new' | 'retry' | 'failed';
    if (outcome.ok) method = 'new';
    else if (st.isUp || !st.hasRun) {
      st.hasRun = true;
      method = 'retry';
    } else method = 'failed';

    let urlDone = false;
    if (method === 'new') {
      if (st.url + 1 >= c.urls) urlDone = true;
      else st.url++;
      st.retryIt = 0;
    } else if (method === 'retry') st.retryIt++;

    if (method === 'new' && urlDone && st.failedUrl < 0) {
      if (!st.isUp || !st.hasRun) {
        this.#checkerState(vi, ri, ci, true, nowMs);
        st.hasRun = true;
      }
      st.url = 0;
      st.retryIt = 0;
    } else if (method === 'retry' && st.retryIt > c.retry) {
      if (st.isUp || !st.hasRun) this.#checkerState(vi, ri, ci, false, nowMs);
      st.failedUrl = st.url;
    } else if (method === 'new' && st.failedUrl >= 0) {
      st.failedUrl = -1;
      st.url = 0;
      st.retryIt = 0;
    } else if (method === 'new' && urlDone) {
      st.url = 0;
    }

    let delay: number;
    if (method === 'new') {
      delay = c.delayLoopMs;
      if (!st.hasRun) st.retryIt = c.retry;
    } else if (st.failedUrl >= 0) delay = Math.max(c.delayBeforeRetryMs, c.delayLoopMs);
    else delay = c.delayBeforeRetryMs;
    if (c.fastRecovery && (!st.hasRun || (!st.isUp && st.failedUrl < 0))) delay = 0;
    return this.#step(delay, st.url);
  }

  /** A FILE_CHECK's file now holds `value` (track_file.c update_track_file_status). */
  fileChanged(vi: number, ri: number, ci: number, value: number, nowMs: number): readonly Action[] {
    this.#out = [];
    const c = this.spec.virtualServers[vi].realServers[ri].checkers[ci];
    const st = this.#ck[vi][ri][ci];
    const rs = this.#rs[vi][ri];
    const prev = st.fileStatus;
    const next = this.#fileStatusOf(c, value);
    st.fileStatus = next;
    if (prev === next) return this.#flush();
    if (next === IPVS_WEIGHT_FAULT) {
      this.#checkerState(vi, ri, ci, false, nowMs);
      rs.effectiveWeight -= st.curWeight;
      st.curWeight = 0;
    } else if (prev === IPVS_WEIGHT_FAULT) {
      st.curWeight = next;
      rs.effectiveWeight += next;
      this.#checkerState(vi, ri, ci, true, nowMs);
    } else {
      this.#updateWeight(vi, ri, rs.effectiveWeight + next - prev, true);
      st.curWeight = next;
    }
    return this.#flush();
  }

  #fileStatusOf(c: CheckerSpec, value: number): number {
    const mult = c.fileReverse ? -1 : 1;
    if (!c.fileWeight) return (value !== 0) !== (mult !== 1) ? IPVS_WEIGHT_FAULT : 0;
    return weightRange(value * c.fileWeight * mult);
  }

  /** Shutdown (ipwrapper.c clear_services): every server and service removed; with omega the scripts run. */
  stop(nowMs: number): readonly Action[] {
    this.#out = [];
    this.spec.virtualServers.forEach((v, vi) => {
      const vs = this.#vs[vi];
      if (v.sorry && vs.sorrySet) {
        if (!v.sorry.isRealServer) this.#emit({ type: 'del-dest', vs: vi, server: { kind: 'sorry' } });
        vs.sorrySet = false;
        vs.sorryAlive = false;
      }
      v.realServers.forEach((r, ri) => {
        const rs = this.#rs[vi][ri];
        this.#log(`Shutting down service ${r.key} from VS ${v.key}`);
        if (!rs.set) return;
        this.#emit({ type: 'del-dest', vs: vi, server: { kind: 'rs', rs: ri } });
        rs.set = false;
        if (!rs.alive) return;
        rs.alive = false;
        if (v.omega) this.#emit({ type: 'notify', vs: vi, rs: ri, script: 'notify_down' });
      });
      // update_vs_notifies(stopping): the quorum goes down; its script only runs with omega.
      vs.quorumUp = false;
      if (v.omega) this.#emit({ type: 'notify', vs: vi, rs: null, script: 'quorum_down' });
      this.#emit({ type: 'del-service', vs: vi });
    });
    void nowMs;
    return this.#flush();
  }

  // ------------------------------------------------------------ ipwrapper.c

  /** update_svr_checker_state */
  #checkerState(vi: number, ri: number, ci: number, alive: boolean, nowMs: number): void {
    const st = this.#ck[vi][ri][ci];
    const rs = this.#rs[vi][ri];
    const c = this.spec.virtualServers[vi].realServers[ri].checkers[ci];
    if (st.isUp === alive) {
      if (!st.hasRun) {
        if (c.alpha || !alive) this.#rsNotify(vi, ri);
        st.hasRun = true;
      }
      return;
    }
    st.hasRun = true;
    if (alive) {
      if (rs.numFailed <= 1 && !this.#perform(vi, ri, true)) return;
    } else if (rs.numFailed === 0 && !this.#perform(vi, ri, false)) return;
    this.#setCheckerState(vi, ri, ci, alive, nowMs);
  }

  /** set_checker_state */
  #setCheckerState(vi: number, ri: number, ci: number, up: boolean, nowMs: number): void {
    const st = this.#ck[vi][ri][ci];
    if (st.isUp === up) return;
    st.isUp = up;
    st.lastChangeMs = nowMs;
    const rs = this.#rs[vi][ri];
    if (!up) rs.numFailed++;
    else if (rs.numFailed) rs.numFailed--;
  }

  /** perform_svr_state */
  #perform(vi: number, ri: number, alive: boolean): boolean {
    const v = this.spec.virtualServers[vi];
    const r = v.realServers[ri];
    const rs = this.#rs[vi][ri];
    const vs = this.#vs[vi];
    if (rs.alive === alive) return true;
    this.#log(`${alive ? (r.inhibit ? 'Enabl' : 'Add') : (r.inhibit ? 'Disabl' : 'Remov')}ing service ${r.key} ${r.inhibit ? 'of' : alive ? 'to' : 'from'} VS ${v.key}`);
    if (vs.quorumUp || !v.sorry || !vs.sorryAlive) this.#ipvs(alive ? 'add' : 'del', vi, { kind: 'rs', rs: ri });
    rs.alive = alive;
    this.#rsNotify(vi, ri);
    this.#updateQuorum(vi, false);
    return true;
  }

  #rsNotify(vi: number, ri: number): void {
    this.#emit({ type: 'notify', vs: vi, rs: ri, script: this.#rs[vi][ri].alive ? 'notify_up' : 'notify_down' });
  }

  #liveWeight(vi: number): number {
    let sum = 0;
    this.#rs[vi].forEach((rs) => { if (rs.alive) sum += realWeight(rs.effectiveWeight); });
    return sum;
  }

  /** update_quorum_state */
  #updateQuorum(vi: number, init: boolean): void {
    const v = this.spec.virtualServers[vi];
    const vs = this.#vs[vi];
    const sum = this.#liveWeight(vi);
    const threshold = v.quorum + (vs.quorumUp ? -1 : 1) * v.hysteresis;
    if (!vs.quorumUp && sum >= threshold) {
      vs.quorumUp = true;
      this.#log(`Gained quorum ${v.quorum}+${v.hysteresis}=${threshold} <= ${sum} for VS ${v.key}`);
      if (v.sorry && vs.sorryAlive) {
        this.#log(`${v.sorry.inhibit ? 'Disabling' : 'Removing'} sorry server ${v.sorry.key} from VS ${v.key}`);
        this.#ipvs('del', vi, { kind: 'sorry' });
        vs.sorryAlive = false;
        this.#poolState(vi, true);
      }
      this.#emit({ type: 'notify', vs: vi, rs: null, script: 'quorum_up' });
    } else if ((vs.quorumUp && (!sum || sum < threshold)) || (init && !vs.quorumUp && v.sorry && !vs.sorryAlive)) {
      vs.quorumUp = false;
      this.#log(`${init ? 'Starting with quorum down' : 'Lost quorum'} ${v.quorum}-${v.hysteresis}=${threshold} > ${sum} for VS ${v.key}`);
      if (v.sorry && !vs.sorryAlive) {
        this.#log(`${v.sorry.inhibit ? 'Enabling' : 'Adding'} sorry server ${v.sorry.key} to VS ${v.key}`);
        this.#poolState(vi, false);
        this.#ipvs('add', vi, { kind: 'sorry' });
        vs.sorryAlive = true;
      }
      this.#emit({ type: 'notify', vs: vi, rs: null, script: 'quorum_down' });
    }
  }

  /** perform_quorum_state: add or remove every alive real server. */
  #poolState(vi: number, add: boolean): void {
    this.#log(`${add ? 'Adding alive servers to' : 'Removing alive servers from'} the pool for VS ${this.spec.virtualServers[vi].key}`);
    this.#rs[vi].forEach((rs, ri) => {
      if (!rs.alive) return;
      if (add) rs.alive = false;
      this.#ipvs(add ? 'add' : 'del', vi, { kind: 'rs', rs: ri });
      rs.alive = true;
    });
  }

  /** update_svr_wgt */
  #updateWeight(vi: number, ri: number, weight: number, updateQuorum: boolean): void {
    const v = this.spec.virtualServers[vi];
    const rs = this.#rs[vi][ri];
    const vs = this.#vs[vi];
    const nw = realWeight(weight);
    const ow = realWeight(rs.effectiveWeight);
    rs.effectiveWeight = weight;
    if (nw === ow) return;
    this.#log(`Changing weight from ${ow} to ${nw} for ${rs.alive ? '' : 'in'}active service ${v.realServers[ri].key} of VS ${v.key}`);
    if (rs.set && rs.alive && (vs.quorumUp || !v.sorry || !vs.sorryAlive)) this.#emit({ type: 'edit-dest', vs: vi, server: { kind: 'rs', rs: ri }, weight: nw });
    if (updateQuorum) this.#updateQuorum(vi, false);
  }

  /** ipvswrapper.c ipvs_cmd for destinations, with the inhibit_on_failure rewrites. */
  #ipvs(op: 'add' | 'del', vi: number, server: ServerRef): void {
    const v = this.spec.virtualServers[vi];
    const vs = this.#vs[vi];
    let inhibit: boolean;
    let set: boolean;
    let numFailed: number;
    let weight: number;
    if (server.kind === 'rs') {
      const rs = this.#rs[vi][server.rs];
      inhibit = v.realServers[server.rs].inhibit;
      set = rs.set;
      numFailed = rs.numFailed;
      weight = realWeight(rs.effectiveWeight);
    } else {
      inhibit = v.sorry!.inhibit;
      set = vs.sorrySet;
      numFailed = vs.sorryNumFailed;
      weight = 1;
    }
    const setSet = (b: boolean) => {
      if (server.kind === 'rs') this.#rs[vi][server.rs].set = b;
      else vs.sorrySet = b;
    };
    if (op === 'del') {
      if (inhibit) this.#emit({ type: 'edit-dest', vs: vi, server, weight: 0 });
      else if (set) {
        setSet(false);
        this.#emit({ type: 'del-dest', vs: vi, server });
      }
      return;
    }
    if (inhibit && set) this.#emit({ type: 'edit-dest', vs: vi, server, weight });
    else if (!set) {
      setSet(true);
      this.#emit({ type: 'add-dest', vs: vi, server, weight: inhibit && numFailed ? 0 : weight });
    }
  }

  // ------------------------------------------------------------ helpers

  #emit(a: Action): void {
    this.#out.push(a);
  }

  #log(text: string): void {
    this.#out.push({ type: 'log', text });
  }

  #flush(): readonly Action[] {
    const a = this.#out;
    this.#out = [];
    return a;
  }

  #step(delay: number, url: number): Step {
    return { actions: this.#flush(), nextDelayMs: delay, nextUrl: url };
  }

  /** A read-only view for status reports. */
  status(vi: number, ri: number): {
    readonly alive: boolean; readonly inTable: boolean; readonly weight: number; readonly failedCheckers: number;
    readonly checkers: readonly { readonly up: boolean; readonly hasRun: boolean; readonly retries: number; readonly lastChangeMs: number | null }[];
  } {
    const rs = this.#rs[vi][ri];
    return {
      alive: rs.alive, inTable: rs.set, weight: realWeight(rs.effectiveWeight), failedCheckers: rs.numFailed,
      checkers: this.#ck[vi][ri].map((c) => ({ up: c.isUp, hasRun: c.hasRun, retries: c.retryIt, lastChangeMs: c.lastChangeMs })),
    };
  }

  quorumUp(vi: number): boolean {
    return this.#vs[vi].quorumUp;
  }

  sorryInPool(vi: number): boolean {
    return this.#vs[vi].sorryAlive;
  }
}
