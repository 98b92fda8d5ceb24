/**
 * The post-parse pass: keepalived/check/ipwrapper.c link_vsg_to_vs, check_data.c
 * validate_check_config (defaults, fix-ups and their messages), the script security passes
 * (check_check_script_security, vrrp.c check_vrrp_script_security) and the parts of
 * vrrp.c vrrp_complete_instance that `keepalived -t` reports. Produces the frozen config.
 */
import { CONFIG_BAD_IF, CONFIG_DEPRECATED, CONFIG_GENERAL_ERROR, type DiagnosticSink, NO_POS, type Pos } from './diagnostics.js';
import {
  type CheckerDraft, type Draft, FWD_MASQ, FWD_ROUTE, FWD_TUNNEL, FWD_UNSET, formatVs, IP_VS_SVC_F_ONEPACKET, IPVS_SVC_PERSISTENT_TIMEOUT,
  IPVS_WEIGHT_LIMIT, type RsDraft, type ScriptDraft, type TunnelDraft, type VrrpDraft, type VsDraft, type VsgDraft,
} from './model.js';
import { cmdStr, ScriptUsers, SecurityPass } from './scripts.js';
import { type HostFacts, SC_INHIBIT, SC_NOTFOUND, scriptSecurity } from './system.js';
import type {
  CheckerConfig, ConnectOptions, Forwarding, KeepalivedConfig, RealServer, Script, SorryServer, Tunnel, VirtualServer, VirtualServerGroup,
  VrrpInstance,
} from './types.js';
import { DNS_TYPES } from './check-keywords.js';
import type { SockAddr } from './values.js';

const TIMER_HZ = 1_000_000;

function protoName(p: number): string {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : p === 0 ? 'none' : '?';
}

/** FMT_RS: the RS address with the VS protocol and the RS port at the time of the message. */
function fmtRs(addr: SockAddr, port: number, proto: number): string {
  return `[${addr.addr}]:${protoName(proto)}:${port}`;
}

export function validate(d: Draft, sink: DiagnosticSink, host: HostFacts, users: ScriptUsers, files: readonly string[]): KeepalivedConfig {
  const g = d.global;
  const err = (pos: Pos, text: string, message?: string) => sink.report(CONFIG_GENERAL_ERROR, pos, text, message);

  // --- link_vsg_to_vs (messages are log_message: they do not change the verdict)
  for (const vs of d.vs) {
    if (vs.vsgname === null) continue;
    const vsg = d.vsg.find((x) => x.name === vs.vsgname);
    if (!vsg) {
      sink.log(vs.at, `Virtual server group ${vs.vsgname} specified but not configured - ignoring virtual server ${formatVs(vs)}`,
        `Virtual server group ${vs.vsgname} specified but not configured - ignoring virtual server ${formatVs(vs)}; define "virtual_server_group ${vs.vsgname} { ... }"`);
      vs.removed = true;
      continue;
    }
    const vsgAf = vsg.haveV4 === vsg.haveV6 ? 0 : vsg.haveV4 ? 2 : 10;
    if (vsg.haveV4 && vsg.haveV6 && vs.af !== 0) {
      sink.log(vs.at, `${vs.vsgname}: virtual server group with IPv4 & IPv6 doesn't match virtual server ${formatVs(vs)} - ignoring`);
      vs.removed = true;
    } else if ((vsg.haveV4 && vs.af === 10) || (vsg.haveV6 && vs.af === 2)) {
      sink.log(vs.at, `${vs.vsgname}: address family doesn't match virtual server ${formatVs(vs)} - ignoring`);
      vs.removed = true;
    } else if (vsgAf !== 0) {
      if (vs.af === 0) vs.af = vsgAf;
    } else if (vs.af === 0 && vsg.fwmarkNoFamily) {
      sink.log(vs.at, `${vs.vsgname}: Virtual server ${formatVs(vs)} address family cannot be determined, defaulting to IPv4`);
    }
  }
  let live = d.vs.filter((v) => !v.removed);
  for (const vsg of d.vsg) {
    let n = 0;
    for (const vs of d.vs) if (vs.vsgname === vsg.name) vs.groupSeq = n++;
  }
  const groupOf = (vs: VsDraft): VsgDraft | null => (vs.vsgname === null ? null : d.vsg.find((x) => x.name === vs.vsgname) ?? null);

  // --- validate_check_config
  for (const vs of live) {
    const vsg = groupOf(vs);
    const ranges = vsg ? vsg.entries.filter((e) => e.kind === 'range') : [];
    const marks = vsg ? vsg.entries.filter((e) => e.kind === 'fwmark') : [];
    if (vs.rs.length === 0) {
      err(vs.at, `Virtual server ${formatVs(vs)} has no real servers - ignoring`,
        `Virtual server ${formatVs(vs)} has no real servers - ignoring; add a real_server block`);
      vs.removed = true;
      continue;
    }
    if (vs.haSuspend && (vs.kind === 'fwmark' || marks.length)) {
      err(vs.at, `Virtual server ${formatVs(vs)}: cannot use ha_suspend with fwmarks - clearing ha_suspend`);
      vs.haSuspend = false;
    }
    if ((vsg && ranges.length) || (!vsg && vs.kind === 'address')) {
      if (!vs.protocol) {
        err(vs.at, `Virtual server ${formatVs(vs)}: no protocol set - defaulting to UDP`,
          `Virtual server ${formatVs(vs)}: no protocol set - defaulting to UDP; add "protocol TCP" (or UDP, SCTP)`);
        vs.protocol = 17;
      }
      if ((vs.flags & IP_VS_SVC_F_ONEPACKET) && vs.protocol !== 17) {
        err(vs.at, `Virtual server ${formatVs(vs)}: one packet scheduling requires UDP - resetting`);
        vs.flags &= ~IP_VS_SVC_F_ONEPACKET;
      }
      if (!vs.persistenceTimeout && !vsg && vs.kind === 'address' && !vs.addr!.port) {
        err(vs.at, `Virtual server ${formatVs(vs)}: zero port only valid for persistent services - setting`);
        vs.persistenceTimeout = IPVS_SVC_PERSISTENT_TIMEOUT;
      }
    }
    if (!vs.persistenceTimeout && vsg) {
      if (ranges.some((e) => !e.port)) {
        err(vs.at, `Virtual server ${formatVs(vs)}: zero port only valid for persistent services - setting`);
        vs.persistenceTimeout = IPVS_SVC_PERSISTENT_TIMEOUT;
      }
    }
    if (vs.protocol && ((vsg && !ranges.length && marks.length) || (!vsg && vs.kind === 'fwmark'))) {
      err(vs.at, `Warning: Virtual server ${formatVs(vs)}: protocol specified for fwmark - protocol will be ignored`);
      vs.protocol = 0;
    }
    if (!vs.sched) {
      err(vs.at, `Virtual server ${formatVs(vs)}: no scheduler set, setting default 'wlc'`,
        `Virtual server ${formatVs(vs)}: no scheduler set, setting default 'wlc'; add "lb_algo wlc" (or the scheduler you want)`);
      vs.sched = 'wlc';
    }
    if (vs.smtpAlert === -1) vs.smtpAlert = g.smtpAlertChecker !== -1 ? g.smtpAlertChecker : g.smtpAlert !== -1 ? g.smtpAlert : 0;

    let weightSum = 0;
    const kept: RsDraft[] = [];
    for (const rs of vs.rs) {
      const dup = kept.find((o) => o.addr.af === rs.addr.af && o.addr.addr === rs.addr.addr && o.addr.port === rs.addr.port);
      if (dup) {
        err(rs.at, `VS ${formatVs(vs)}: real server ${fmtRs(rs.addr, rs.addr.port, vs.protocol)} is duplicated - removing second rs`);
        rs.removed = true;
        continue;
      }
      kept.push(rs);
      if (rs.fwd === FWD_UNSET) {
        if (vs.fwd === FWD_UNSET) {
          err(vs.at, `Virtual server ${formatVs(vs)}: no forwarding method set, setting default NAT`,
            `Virtual server ${formatVs(vs)}: no forwarding method set, setting default NAT; add "lb_kind NAT" (or DR, TUN)`);
          vs.fwd = FWD_MASQ;
        }
        copyTun(rs, vs);
      }
      if (rs.alpha === -1) rs.alpha = vs.alpha ? 1 : 0;
      if (rs.inhibit === -1) rs.inhibit = vs.inhibit ? 1 : 0;
      rs.retry ??= vs.retry;
      rs.connectTimeoutUs ??= vs.connectTimeoutUs;
      rs.delayLoopUs ??= vs.delayLoopUs;
      rs.warmupUs ??= vs.warmupUs;
      rs.delayBeforeRetryUs ??= vs.delayBeforeRetryUs;
      if (rs.effectiveWeight === undefined) {
        rs.effectiveWeight = vs.weight;
        rs.iweight = vs.weight;
      }
      if (rs.smtpAlert === -1) rs.smtpAlert = g.smtpAlertChecker !== -1 ? g.smtpAlertChecker : g.smtpAlert !== -1 ? g.smtpAlert : 1;
      weightSum += rs.effectiveWeight;
      if (vs.sorry && sameAddr(vs.sorry.addr, rs.addr)) {
        if (vs.sorry.inhibit !== (rs.inhibit === 1)) {
          err(vs.at, `Virtual server ${formatVs(vs)}: real server ${fmtRs(rs.addr, rs.addr.port, vs.protocol)} matches sorry server, but inhibit setting differs, ${rs.inhibit ? 'sett' : 'clear'}ing on sorry server`);
          vs.sorry.inhibit = rs.inhibit === 1;
        }
        vs.sorryIsRs = true;
      }
    }
    vs.rs = kept;
    if (vs.sorry && vs.sorry.fwd === FWD_UNSET) {
      if (vs.fwd === FWD_UNSET) {
        err(vs.at, `Virtual server ${formatVs(vs)}: no forwarding method set, setting default NAT`);
        vs.fwd = FWD_MASQ;
      }
      copyTun(vs.sorry, vs);
    }
    if (vs.quorum > weightSum) {
      err(vs.at, `Warning - quorum ${vs.quorum} for ${formatVs(vs)} exceeds total weight of real servers ${weightSum}, reducing quorum to ${weightSum}`);
      vs.quorum = weightSum;
    }
    if (vs.hysteresis >= vs.quorum) {
      err(vs.at, `Virtual server ${formatVs(vs)}: hysteresis ${vs.hysteresis} >= quorum ${vs.quorum}; setting hysteresis to ${vs.quorum - 1}`);
      vs.hysteresis = vs.quorum - 1;
    }
    if (vsg) {
      if (marks.length) {
        for (const rs of vs.rs) {
          if (rs.fwd === FWD_MASQ) continue;
          if (rs.addr.port) err(rs.at, `WARNING - fwmark virtual server ${formatVs(vs)}, real server ${fmtRs(rs.addr, rs.addr.port, vs.protocol)} has port specified - port will be ignored`);
        }
        if (vs.sorry && vs.sorry.fwd !== FWD_MASQ && vs.sorry.addr.port) {
          err(vs.at, `WARNING - fwmark virtual server ${formatVs(vs)}, sorry server has port specified - port will be ignored`);
        }
      }
      for (const e of ranges) {
        for (const rs of vs.rs) {
          if (rs.fwd === FWD_MASQ) continue;
          if (rs.addr.port && e.port !== rs.addr.port) {
            err(rs.at, `virtual server ${formatVs(vs)}:[${vsgeText(e)}] and real server ${fmtRs(rs.addr, rs.addr.port, vs.protocol)} ports don't match`);
          }
        }
        if (vs.sorry && vs.sorry.fwd !== FWD_MASQ && vs.sorry.addr.port && e.port !== vs.sorry.addr.port) {
          err(vs.at, `WARNING - virtual server ${formatVs(vs)}, sorry server has port specified - port will be ignored`);
        }
      }
    } else {
      const vport = vs.addr ? vs.addr.port : 0;
      for (const rs of vs.rs) {
        if (rs.fwd === FWD_MASQ) {
          if (vs.kind !== 'fwmark' && !rs.addr.port) rs.addr = { ...rs.addr, port: vport };
          continue;
        }
        if (vs.kind === 'fwmark') {
          if (rs.addr.port) {
            err(rs.at, `WARNING - fwmark virtual server ${formatVs(vs)}, real server ${fmtRs(rs.addr, rs.addr.port, vs.protocol)} has port specified - clearing`);
            rs.addr = { ...rs.addr, port: 0 };
          }
        } else if (!rs.addr.port) rs.addr = { ...rs.addr, port: vport };
        else if (vport !== rs.addr.port) {
          err(rs.at, `WARNING - virtual server ${formatVs(vs)} and real server ${fmtRs(rs.addr, rs.addr.port, vs.protocol)} ports don't match - resetting`,
            `WARNING - virtual server ${formatVs(vs)} and real server ${fmtRs(rs.addr, rs.addr.port, vs.protocol)} ports don't match - resetting; DR and TUN cannot change the port, use lb_kind NAT to map ports`);
          rs.addr = { ...rs.addr, port: vport };
        }
      }
      if (vs.sorry && vs.sorry.fwd !== FWD_MASQ) {
        if (vs.kind === 'fwmark') {
          if (vs.sorry.addr.port) {
            err(vs.at, `WARNING - virtual server ${formatVs(vs)}, sorry server has port specified - clearing`);
            vs.sorry.addr = { ...vs.sorry.addr, port: 0 };
          }
        } else if (!vs.sorry.addr.port) vs.sorry.addr = { ...vs.sorry.addr, port: vport };
        else if (vport !== vs.sorry.addr.port) {
          err(vs.at, `WARNING - virtual server ${formatVs(vs)} and sorry server ports don't match - resetting`);
          vs.sorry.addr = { ...vs.sorry.addr, port: vport };
        }
      }
    }
  }
  live = d.vs.filter((v) => !v.removed);

  // --- checker defaults (validate_check_config's checkers_queue loop)
  for (const vs of live) {
    for (const rs of vs.rs) {
      for (const c of rs.checkers) {
        if (c.removed) continue;
        if (c.alpha === -1) c.alpha = rs.alpha === 1 ? 1 : 0;
        if (c.kind === 'FILE_CHECK' || c.kind === 'BFD_CHECK') continue;
        c.retry ??= rs.retry ?? c.defaultRetry;
        if (c.co && c.co.connectTimeoutUs === undefined) c.co.connectTimeoutUs = rs.connectTimeoutUs;
        c.delayLoopUs ??= rs.delayLoopUs;
        c.warmupUs ??= rs.warmupUs ?? c.delayLoopUs;
        c.delayBeforeRetryUs ??= rs.delayBeforeRetryUs ?? (c.defaultDelayBeforeRetryUs || c.delayLoopUs);
      }
    }
  }

  // --- scripts: users, then the checker security pass
  const sec = g.enableScriptSecurity;
  // keepalived decides the default script user at the first script that needs one, in parse
  // order (parent process first, then the checker): ask for it there, so its one error lands there.
  const prime = (list: readonly (ScriptDraft | null)[]) => {
    const first = list.filter((x): x is ScriptDraft => x !== null && x.user === null).sort((a, b) => a.seq - b.seq)[0];
    if (first) users.getDefault(sec, first.userPos);
  };
  prime([g.startupScript, g.shutdownScript, g.notifyFifoScript, g.lvsNotifyFifoScript, g.vrrpNotifyFifoScript]);
  prime(d.vs.flatMap((vs) => [vs.quorumUp, vs.quorumDown, ...vs.rs.flatMap((rs) => [rs.notifyUp, rs.notifyDown, ...rs.checkers.filter((c) => !c.removed).map((c) => c.script)])]));
  const globalScripts = {
    startup: users.resolve(g.startupScript, sec),
    shutdown: users.resolve(g.shutdownScript, sec),
    notifyFifo: users.resolve(g.notifyFifoScript, sec),
    lvsNotifyFifo: users.resolve(g.lvsNotifyFifoScript, sec),
    vrrpNotifyFifo: users.resolve(g.vrrpNotifyFifoScript, sec),
  };
  if (globalScripts.startup || globalScripts.shutdown) {
    const p = new SecurityPass(host, sink, sec);
    p.notify(globalScripts.startup);
    p.notify(globalScripts.shutdown);
    p.finish(g.startupScript?.at ?? g.shutdownScript?.at ?? NO_POS, 'SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.');
  }
  const resolvedVs = new Map<VsDraft, { up: Script | null; down: Script | null }>();
  const resolvedRs = new Map<RsDraft, { up: Script | null; down: Script | null }>();
  const resolvedMisc = new Map<CheckerDraft, Script | null>();
  for (const vs of d.vs) {
    for (const rs of vs.rs) {
      resolvedRs.set(rs, { up: users.resolve(rs.notifyUp, sec), down: users.resolve(rs.notifyDown, sec) });
      for (const c of rs.checkers) {
        if (c.kind !== 'MISC_CHECK' || c.removed || !c.script) continue;
        if (c.script.user !== null) {
          const u = users.lookup(c.script.user, c.script.group, c.script.at);
          if (!u) {
            err(c.miscUserPos ?? c.at, `Failed to set uid/gid for misc checker script ${cmdStr(c.script.argv)} - removing`);
            c.removed = true;
            continue;
          }
          resolvedMisc.set(c, Object.freeze({ argv: Object.freeze([...c.script.argv]), user: c.script.user, uid: u.uid, gid: u.gid, at: c.script.at }));
        } else {
          const def = users.getDefault(sec, c.script.at);
          if (!def) {
            err(c.script.userPos, `Unable to set default user for misc script ${cmdStr(c.script.argv)} - removing`);
            c.removed = true;
            continue;
          }
          resolvedMisc.set(c, Object.freeze({ argv: Object.freeze([...c.script.argv]), user: def.name, uid: def.uid, gid: def.gid, at: c.script.at }));
        }
      }
    }
    resolvedVs.set(vs, { up: users.resolve(vs.quorumUp, sec), down: users.resolve(vs.quorumDown, sec) });
  }
  if (live.length) {
    const p = new SecurityPass(host, sink, sec);
    for (const vs of live) {
      for (const rs of vs.rs) {
        for (const c of rs.checkers) {
          const s = resolvedMisc.get(c);
          if (c.kind === 'MISC_CHECK' && !c.removed && s && !p.misc(s)) c.removed = true;
        }
      }
    }
    for (const vs of live) {
      const q = resolvedVs.get(vs)!;
      if (!p.notify(q.up)) q.up = null;
      if (!p.notify(q.down)) q.down = null;
      for (const rs of vs.rs) {
        const n = resolvedRs.get(rs)!;
        if (!p.notify(n.up)) n.up = null;
        if (!p.notify(n.down)) n.down = null;
      }
    }
    if (globalScripts.notifyFifo && !p.notify(globalScripts.notifyFifo)) globalScripts.notifyFifo = null;
    if (globalScripts.lvsNotifyFifo && !p.notify(globalScripts.lvsNotifyFifo)) globalScripts.lvsNotifyFifo = null;
    p.finish(live[0].at, 'SECURITY VIOLATION - check scripts are being executed but script_security not enabled.');
  }

  // --- VRRP: vrrp_complete_instance subset, sync groups, script security
  const vrrpInstances = completeVrrp(d, sink, users, host, sec);

  // --- freeze (deepFreeze below also covers the shared source positions)
  const virtualServers: VirtualServer[] = live.map((vs) => freezeVs(vs, groupOf(vs), resolvedVs.get(vs)!, resolvedRs, resolvedMisc, d, sink));
  const virtualServerGroups: VirtualServerGroup[] = d.vsg.map((vsg) => Object.freeze({
    name: vsg.name, at: vsg.at,
    entries: Object.freeze(vsg.entries.map((e) => Object.freeze({
      kind: e.kind, af: e.af, first: e.first?.addr ?? '', last: e.last?.addr ?? '', port: e.port, fwmark: e.fwmark,
    }))),
  }));
  return deepFreeze({
    files: Object.freeze([...files]),
    globalDefs: Object.freeze({
      routerId: g.routerId, enableScriptSecurity: g.enableScriptSecurity, scriptUser: g.scriptUser?.user ?? null, lvsFlush: g.lvsFlush,
      lvsFlushOnStop: g.lvsFlushOnStop, lvsTimeouts: Object.freeze({ ...g.lvsTimeouts }),
      lvsSyncDaemon: g.lvsSyncDaemon ? Object.freeze({ ...g.lvsSyncDaemon }) : null, notifyFifo: g.notifyFifo, lvsNotifyFifo: g.lvsNotifyFifo,
      checkerLogAllFailures: g.checkerLogAllFailures, rsInitNotifies: g.rsInitNotifies,
      smtpAlert: g.smtpAlert === -1 ? null : g.smtpAlert === 1, smtpAlertChecker: g.smtpAlertChecker === -1 ? null : g.smtpAlertChecker === 1,
      keywords: Object.freeze(g.keywords.map((k) => Object.freeze({ name: k.name, args: Object.freeze([...k.args]), at: k.at }))),
    }),
    virtualServerGroups: Object.freeze(virtualServerGroups),
    virtualServers: Object.freeze(virtualServers),
    trackFiles: Object.freeze(d.trackFiles.map((t) => Object.freeze({ name: t.name, path: t.path!, weight: t.weight, reverse: t.reverse, at: t.at }))),
    ssl: d.ssl ? Object.freeze({ ...d.ssl }) : null,
    vrrpInstances: Object.freeze(vrrpInstances),
    vrrpSyncGroups: Object.freeze(d.syncGroups.map((s) => Object.freeze({ name: s.name, at: s.at, instances: Object.freeze((s.instances ?? []).map((i) => i.name)) }))),
    vrrpScripts: Object.freeze(d.vrrpScripts.filter((s) => !s.removed).map((s) => Object.freeze({
      name: s.name, at: s.at, script: s.script ? Object.freeze({ argv: Object.freeze([...s.script.argv]), user: s.script.user ?? 'root', uid: 0, gid: 0, at: s.script.at }) : null,
      intervalS: s.intervalS, weight: s.weight,
    }))),
    inactive: Object.freeze(d.inactive.map((i) => Object.freeze({ ...i }))),
  });
}

function deepFreeze<T>(v: T, seen = new Set<object>()): T {
  if (v === null || typeof v !== 'object' || seen.has(v)) return v;
  seen.add(v);
  Object.freeze(v);
  for (const x of Object.values(v as object)) deepFreeze(x, seen);
  return v;
}

function sameAddr(a: SockAddr, b: SockAddr): boolean {
  return a.af === b.af && a.addr === b.addr && a.port === b.port;
}

function copyTun(to: TunnelDraft, from: TunnelDraft): void {
  to.fwd = from.fwd;
  to.tunType = from.tunType;
  to.tunPort = from.tunPort;
  to.tunFlags = from.tunFlags;
}

function vsgeText(e: { kind: string; first: SockAddr | null; last: SockAddr | null; port: number; fwmark: number }): string {
  if (e.kind === 'fwmark') return `FWM ${e.fwmark}`;
  if (e.first && e.last && e.first.addr !== e.last.addr) return `${e.first.addr}-${e.last.addr},${e.port}`;
  return `${e.first?.addr},${e.port}`;
}

function fwdName(f: number): Forwarding {
  return f === FWD_ROUTE ? 'route' : f === FWD_TUNNEL ? 'tunnel' : 'masq';
}

function tunnelOf(t: TunnelDraft): Tunnel | null {
  if (t.fwd !== FWD_TUNNEL) return null;
  return Object.freeze({
    type: (['ipip', 'gue', 'gre'] as const)[t.tunType] ?? 'ipip',
    port: t.tunPort,
    csum: (['nocsum', 'csum', 'remcsum'] as const)[t.tunFlags] ?? 'nocsum',
  });
}

const us = (v: number): number => v / 1000;

function freezeVs(vs: VsDraft, vsg: VsgDraft | null, q: { up: Script | null; down: Script | null }, rsScripts: Map<RsDraft, { up: Script | null; down: Script | null }>,
  misc: Map<CheckerDraft, Script | null>, d: Draft, sink: DiagnosticSink): VirtualServer {
  const key = formatVs(vs);
  const sorry: SorryServer | null = vs.sorry ? Object.freeze({
    af: vs.sorry.addr.af, addr: vs.sorry.addr.addr, port: vs.sorry.addr.port, forwarding: fwdName(vs.sorry.fwd), tunnel: tunnelOf(vs.sorry),
    inhibit: vs.sorry.inhibit, isRealServer: vs.sorryIsRs,
  }) : null;
  const realServers: RealServer[] = vs.rs.map((rs) => {
    const scripts = rsScripts.get(rs)!;
    const rsKey = `[${rs.addr.addr}]:${protoName(vs.protocol)}:${rs.addr.port}`;
    const checkers: CheckerConfig[] = [];
    for (const c of rs.checkers) {
      if (c.removed) continue;
      const fc = freezeChecker(c, rs, vs, misc.get(c) ?? null, d, sink);
      if (fc) checkers.push(fc);
    }
    return Object.freeze({
      at: rs.at, key: rsKey, af: rs.addr.af, addr: rs.addr.addr, port: rs.addr.port, weight: rs.iweight, forwarding: fwdName(rs.fwd),
      tunnel: tunnelOf(rs), uThreshold: rs.uThreshold, lThreshold: rs.lThreshold, inhibitOnFailure: rs.inhibit === 1, alpha: rs.alpha === 1,
      notifyUp: scripts.up, notifyDown: scripts.down, smtpAlert: rs.smtpAlert === 1, virtualhost: rs.virtualhost, checkers: Object.freeze(checkers),
    });
  });
  void vsg;
  return Object.freeze({
    at: vs.at, key, kind: vs.kind, af: (vs.af || 2) as 2 | 10, addr: vs.addr ? vs.addr.addr : null, port: vs.addr ? vs.addr.port : 0,
    fwmark: vs.fwmark, group: vs.vsgname, protocol: vs.protocol as 0 | 6 | 17 | 132, scheduler: vs.sched, flags: vs.flags,
    forwarding: fwdName(vs.fwd), tunnel: tunnelOf(vs), persistenceTimeoutS: vs.persistenceTimeout, persistenceGranularity: vs.granularity,
    persistenceEngine: vs.pe, delayLoopMs: us(vs.delayLoopUs), connectTimeoutMs: us(vs.connectTimeoutUs), quorum: vs.quorum,
    hysteresis: vs.hysteresis, quorumUp: q.up, quorumDown: q.down, alpha: vs.alpha, omega: vs.omega, inhibitOnFailure: vs.inhibit,
    haSuspend: vs.haSuspend, virtualhost: vs.virtualhost, smtpAlert: vs.smtpAlert === 1, weight: vs.weight, sorryServer: sorry,
    realServers: Object.freeze(realServers),
  });
}

function freezeConnect(c: CheckerDraft, rs: RsDraft): ConnectOptions {
  const co = c.co!;
  const a = co.dst.addr ?? rs.addr;
  return Object.freeze({
    dest: Object.freeze({ af: a.af, addr: a.addr, port: co.dst.port }),
    bindto: co.bindto.addr ? Object.freeze({ af: co.bindto.addr.af, addr: co.bindto.addr.addr, port: co.bindto.port }) : null,
    bindIf: co.bindIf || null,
    connectTimeoutMs: us(co.connectTimeoutUs ?? 5 * TIMER_HZ),
    fwmark: co.fwmark,
  });
}

function freezeChecker(c: CheckerDraft, rs: RsDraft, vs: VsDraft, misc: Script | null, d: Draft, sink: DiagnosticSink): CheckerConfig | null {
  const common = {
    at: c.at, alpha: c.alpha === 1, retry: c.retry ?? 0, delayBeforeRetryMs: us(c.delayBeforeRetryUs ?? 0), delayLoopMs: us(c.delayLoopUs ?? vs.delayLoopUs),
    warmupMs: us(c.warmupUs ?? 0), logAllFailures: c.logAllFailures,
  };
  if (c.co && c.co.dst.port === 0 && c.kind !== 'PING_CHECK') {
    sink.log(c.at, '', `${c.kind} on ${rs.addr.addr} probes port 0: the real_server line has no port and the checker no connect_port (keepalived 2.2.7 does the same); add connect_port`);
  }
  switch (c.kind) {
    case 'TCP_CHECK':
    case 'PING_CHECK':
      return Object.freeze({ ...common, kind: c.kind, connect: freezeConnect(c, rs) });
    case 'HTTP_GET':
    case 'SSL_GET': {
      const connect = freezeConnect(c, rs);
      const urls = c.urls.map((u) => {
        const vhost = u.virtualhost ?? c.virtualhost ?? rs.virtualhost ?? vs.virtualhost;
        const host = vhost ?? (connect.dest.af === 10 ? `[${connect.dest.addr}]:${connect.dest.port}` : `${connect.dest.addr}:${connect.dest.port}`);
        return Object.freeze({
          path: u.path!, digest: u.digest, statusCodes: Object.freeze([...u.status].sort((a, b) => a - b)), virtualhost: u.virtualhost, host,
          regex: u.regex === null ? null : Object.freeze({ pattern: u.regex, noMatch: u.regexNoMatch, options: Object.freeze([...u.regexOptions]), minOffset: u.regexMinOffset, maxOffset: u.regexMaxOffset }),
        });
      });
      return Object.freeze({
        ...common, kind: c.kind, connect, urls: Object.freeze(urls), virtualhost: c.virtualhost, httpProtocol: c.httpProtocol,
        fastRecovery: c.fastRecovery, enableSni: c.enableSni,
      });
    }
    case 'MISC_CHECK':
      if (!misc) return null;
      return Object.freeze({ ...common, kind: 'MISC_CHECK', script: misc, timeoutMs: us(c.miscTimeoutUs || vs.delayLoopUs), dynamic: c.miscDynamic });
    case 'DNS_CHECK': {
      const t = DNS_TYPES.find(([, code]) => code === c.dnsType)!;
      return Object.freeze({ ...common, kind: 'DNS_CHECK', connect: freezeConnect(c, rs), type: t[0], typeCode: t[1], name: c.dnsName ?? '' });
    }
    case 'SMTP_CHECK':
      return Object.freeze({ ...common, kind: 'SMTP_CHECK', connect: freezeConnect(c, rs), heloName: c.heloName ?? 'smtpchecker.keepalived.org' });
    case 'UDP_CHECK':
      return Object.freeze({
        ...common, kind: 'UDP_CHECK', connect: freezeConnect(c, rs), payload: c.payload ? Object.freeze([...c.payload]) : null,
        requireReply: c.requireReply, replyData: c.replyData ? Object.freeze([...c.replyData]) : null,
        replyMask: c.replyMask ? Object.freeze([...c.replyMask]) : null, minReplyLength: c.minReplyLength, maxReplyLength: c.maxReplyLength,
      });
    case 'FILE_CHECK': {
      const tf = d.trackFiles.find((t) => t.name === c.trackFile)!;
      // check_file.c add_rs_to_track_files: file checkers have "run" and are never alpha.
      return Object.freeze({ ...common, alpha: false, kind: 'FILE_CHECK', trackFile: tf.name, path: tf.path!, weight: c.fileWeight ?? tf.weight, reverse: c.fileReverse });
    }
    case 'BFD_CHECK':
      return Object.freeze({ ...common, kind: 'BFD_CHECK', name: c.bfdName ?? '' });
  }
}

/**
 * vrrp_daemon.c start_vrrp + vrrp.c vrrp_complete_init, in keepalived's order, stopping where
 * it stops: non-existent interface (after parsing), script security, chk_min_cfg for every
 * instance, sync groups, then each instance's completion.
 */
function completeVrrp(d: Draft, sink: DiagnosticSink, users: ScriptUsers, host: HostFacts, sec: boolean): VrrpInstance[] {
  const g = d.global;
  const out: VrrpInstance[] = [];
  const err = (pos: Pos, text: string) => sink.report(CONFIG_GENERAL_ERROR, pos, text);
  if (d.nonExistentInterface) {
    // vrrp_daemon.c start_vrrp: the VRRP side stops right after parsing, nothing else is checked.
    sink.report(CONFIG_BAD_IF, d.vrrp[0]?.at ?? NO_POS, 'Non-existent interface specified in configuration',
      'Non-existent interface specified in configuration; create the interface or correct its name (or set dynamic_interfaces in global_defs)');
    return out;
  }
  if (d.vrrp.length === 0) return out;

  // check_vrrp_script_security
  const p = new SecurityPass(host, sink, sec);
  for (const s of d.vrrpScripts) {
    if (s.removed || !s.script) continue;
    const r = users.resolve(s.script, sec);
    if (!r) { s.removed = true; continue; }
    // vrrp.c check_track_script_secure: these two are counted as configuration errors.
    const f = scriptSecurity(host, r.argv[0], r.uid, r.gid, sec).flags;
    p.flags |= f;
    if (f & SC_INHIBIT) { err(s.at, `Disabling track script ${s.name} due to insecure`); s.removed = true; }
    else if (f & SC_NOTFOUND) { err(s.at, `Disabling track script ${s.name} since not found/accessible`); s.removed = true; }
  }
  for (const vr of d.vrrp) for (const s of vr.scripts) p.notify(users.resolve(s, sec));
  for (const sg of d.syncGroups) for (const s of sg.scripts) p.notify(users.resolve(s, sec));
  p.finish(d.vrrp[0].at, 'SECURITY VIOLATION - scripts are being executed but script_security not enabled.');

  // chk_min_cfg: the first instance missing its VRID or interface stops everything.
  for (const vr of d.vrrp) {
    const unicast = vr.unicastConfigured && vr.unicastPeers.length > 0;
    if (vr.vrid === 0) { err(NO_POS, `(${vr.name}) the virtual router id must be set`); return out; }
    if (!vr.ifName && !unicast) { err(NO_POS, `(${vr.name}) Unknown interface!`); return out; }
  }

  const wantState = (vr: VrrpDraft): { state: 'MASTER' | 'BACKUP'; priority: number } => {
    const priority = vr.priority || (vr.state === 'MASTER' ? 255 : 100);
    return { priority, state: vr.state ?? (priority === 255 ? 'MASTER' : 'BACKUP') };
  };
  const taken = new Set<string>();
  for (const sg of d.syncGroups) {
    if (!sg.instances) { err(NO_POS, `Sync group ${sg.name} has no virtual router(s). removing`); continue; }
    let members = 0;
    let sgState: 'MASTER' | 'BACKUP' | null = null;
    for (const i of sg.instances) {
      const vr = d.vrrp.find((v) => v.name === i.name);
      if (!vr) { err(NO_POS, `Virtual router ${i.name} specified in sync group ${sg.name} doesn't exist - ignoring`); continue; }
      if (taken.has(vr.name)) { err(NO_POS, `Virtual router ${i.name} cannot exist in more than one sync group; ignoring ${sg.name}`); continue; }
      taken.add(vr.name);
      members++;
      const w = wantState(vr);
      if (sgState === 'MASTER' && w.state === 'BACKUP') err(NO_POS, `Sync group ${sg.name} has some member(s) as address owner and some not as address owner. This won't work.`);
      if (sgState !== 'BACKUP') sgState = w.state === 'MASTER' && w.priority === 255 ? 'MASTER' : 'BACKUP';
    }
    if (members === 0) err(NO_POS, `Sync group ${sg.name}, no matching virtual router found in group declaration - removing`);
    else if (members === 1) err(NO_POS, `Sync group ${sg.name} has only 1 virtual router(s) - this probably isn't what you want`);
  }

  for (const vr of d.vrrp) {
    const strict = g.vrrpStrict;
    let version = vr.version;
    if (vr.family === 10 && !version) version = 3;
    if (!version) version = g.vrrpVersion;
    if (vr.vips.length === 0) {
      if (version === 3 || strict) { err(NO_POS, `(${vr.name}) No VIP specified; at least one is required`); return out; }
      err(NO_POS, `(${vr.name}) No VIP specified; at least one is sensible`);
    }
    const { state, priority } = wantState(vr);
    let auth = vr.authType;
    if (auth) {
      if (strict) { err(NO_POS, `(${vr.name}) Strict mode does not support authentication. Ignoring.`); auth = null; }
      else if (version === 3) { err(NO_POS, `(${vr.name}) VRRP version 3 does not support authentication. Ignoring.`); auth = null; }
      else if (!vr.authPass) { err(NO_POS, `(${vr.name}) Authentication specified but no password given. Ignoring`); auth = null; }
      else if (vr.family === 10 && auth === 'AH') { err(NO_POS, `(${vr.name}) Cannot use AH authentication with IPv6. ignoring`); auth = null; }
      else if (auth === 'AH' && state === 'MASTER' && priority !== 255) {
        err(NO_POS, `(${vr.name}) Initial state master is incompatible with AH authentication - clearing`);
      }
    }
    if (vr.unicastConfigured && vr.unicastPeers.length === 0) {
      sink.report(CONFIG_DEPRECATED, NO_POS, `(${vr.name}) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration.`);
    }
    let nopreempt = vr.nopreempt;
    if (priority === 255 && nopreempt) { err(NO_POS, `(${vr.name}) nopreempt is incompatible with priority 255. resetting nopreempt`); nopreempt = false; }
    if (state === 'MASTER') {
      if (nopreempt) { err(NO_POS, `(${vr.name}) Warning - nopreempt will not work with initial state MASTER - clearing`); nopreempt = false; }
      if (vr.preemptDelayUs) err(NO_POS, `(${vr.name}) Warning - preempt delay will not work with initial state MASTER - clearing`);
    } else if (vr.preemptDelayUs && nopreempt) err(NO_POS, `(${vr.name}) preempt_delay is incompatible with nopreempt mode - resetting`);
    let adv = vr.advertIntUs || TIMER_HZ;
    if (version === 2) {
      if (adv >= 256 * TIMER_HZ) {
        err(NO_POS, `(${vr.name}) VRRPv2 advertisement interval ${(adv / TIMER_HZ).toFixed(2)}s is out of range. Must be less than 256s. Setting to 255s`);
        adv = 255 * TIMER_HZ;
      } else if (adv % TIMER_HZ) {
        err(NO_POS, `(${vr.name}) VRRPv2 advertisement interval ${(adv / TIMER_HZ).toFixed(6)}s must be an integer. rounding`);
        adv = Math.max(TIMER_HZ, Math.round(adv / TIMER_HZ) * TIMER_HZ);
      }
    } else if (adv % 10000) {
      err(NO_POS, `(${vr.name}) VRRPv3 advertisement interval ${(adv / TIMER_HZ).toFixed(6)}s must be in units of 10ms - rounding`);
      adv = Math.max(10000, Math.round(adv / 10000) * 10000);
    }
    out.push(Object.freeze({
      name: vr.name, at: vr.at, state, interface: vr.ifName, virtualRouterId: vr.vrid, priority, advertIntMs: adv / 1000, version: version as 2 | 3,
      virtualIpAddresses: Object.freeze([...vr.vips]), authType: auth, nopreempt, unicastPeers: Object.freeze([...vr.unicastPeers]),
      trackScripts: Object.freeze(vr.trackScripts.map((t) => t.name)),
    }));
  }
  return out;
}

export { IPVS_WEIGHT_LIMIT };
