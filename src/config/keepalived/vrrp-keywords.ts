/**
 * The VRRP and BFD sides of keepalived.conf (keepalived/vrrp/vrrp_parser.c init_vrrp_keywords,
 * keepalived/bfd/bfd_parser.c). tslvs has no director failover yet, so these blocks are parsed
 * and validated (the checks `keepalived -t` makes that decide its verdict) and then reported
 * once as not active. The keyword sets are Debian 2.2.7's build (VMAC, ipvlan, track_process,
 * linkbeat, BFD, VRF, nftables; no iptables).
 */
import { CONFIG_GENERAL_ERROR } from './diagnostics.js';
import { scriptFromLine } from './check-keywords.js';
import type { Draft, SyncGroupDraft, VrrpDraft, VrrpScriptDraft } from './model.js';
import type { KeywordSpec, Line, ParseContext } from './parser.js';
import { inetPton4, inetPton6, readInt, readTimer, readUnsigned, stoSockaddr } from './values.js';

const TIMER_HZ = 1_000_000;

/** vrrp_instance keywords whose value tslvs keeps but does not check (single line). */
const VRRP_PLAIN = [
  'use_vmac', 'use_vmac_addr', 'vmac_xmit_base', 'use_ipvlan', 'unicast_fault_no_peer', 'check_unicast_src', 'old_unicast_checksum',
  'native_ipv6', 'vrf', 'dont_track_primary', 'mcast_dst_ip', 'track_src_ip', 'unicast_ttl', 'promote_secondaries', 'linkbeat_use_polling',
  'accept', 'no_accept', 'skip_check_adv_addr', 'strict_mode', 'preempt', 'debug', 'smtp_alert', 'notify_priority_changes',
  'garp_master_delay', 'garp_master_refresh', 'garp_master_repeat', 'garp_master_refresh_repeat',
  'garp_lower_prio_delay', 'garp_lower_prio_repeat', 'down_timer_adverts', 'garp_extra_if', 'vmac_garp_intvl', 'lower_prio_no_advert',
  'higher_prio_send_advert', 'kernel_rx_buf_size',
];
/** vrrp_instance keywords that own a `{ }` list of values. */
const VRRP_VALUE_BLOCKS = ['track_file', 'track_process', 'track_bfd', 'virtual_routes', 'virtual_rules'];
const VRRP_NOTIFY = ['notify_backup', 'notify_master', 'notify_fault', 'notify_stop', 'notify_deleted', 'notify', 'notify_master_rx_lower_pri'];

export function vrrpRootKeywords(d: Draft): KeywordSpec[] {
  /** vrrp_if.c if_get_by_ifname(IF_CREATE_IF_DYNAMIC): false (and remembered) when it does not exist. */
  const ifExists = (name: string): boolean => {
    if (!d.interfaces || d.interfaces.includes(name)) return true;
    if (d.global.keywords.some((k) => k.name === 'dynamic_interfaces')) return true;
    d.nonExistentInterface = true;
    return false;
  };
  const cur = () => d.vrrp[d.vrrp.length - 1];
  const curScript = () => d.vrrpScripts[d.vrrpScripts.length - 1];
  const curGroup = () => d.syncGroups[d.syncGroups.length - 1];
  const err = (ctx: ParseContext, l: Line, i: number, text: string) => ctx.sink.report(CONFIG_GENERAL_ERROR, ctx.pos(l, i), text);
  const valueBlock = (name: string, each?: (ctx: ParseContext, v: Line) => void): KeywordSpec => ({
    name, handler: (ctx, l) => { for (const v of ctx.readValueBlock(l)) each?.(ctx, v); },
  });

  const trackIf = (ctx: ParseContext, v: Line, owner: string) => {
    const n = v.words[0].text;
    if (!ifExists(n)) err(ctx, v, 0, `(${owner}) tracked interface ${n} doesn't exist`);
  };
  /** vrrp_ipaddress.c parse_ipaddress + alloc_ipaddress: the family, or 0 when the address is dropped. */
  const parseAddrLine = (ctx: ParseContext, v: Line): 0 | 2 | 10 => {
    const s = v.words[0].text;
    const is6 = s.includes(':');
    const slash = s.indexOf('/');
    if (slash >= 0) {
      const p = s.slice(slash + 1);
      const max = is6 ? 128 : 32;
      if (readUnsigned(ctx.sink, ctx.pos(v), p, 0, max) === null) err(ctx, v, 0, `Invalid address prefix len ${p} for address ${s} - using ${max}`);
    }
    const host = slash >= 0 ? s.slice(0, slash) : s;
    if (!(is6 ? inetPton6(host) !== null : inetPton4(host) !== null)) { err(ctx, v, 0, `VRRP parsed invalid IP ${s}. skipping IP...`); return 0; }
    const options: Record<string, number> = {
      brd: 1, broadcast: 1, dev: 1, scope: 1, label: 1, peer: 1, home: 0, '-nodad': 0, nodad: 0, mngtmpaddr: 0, noprefixroute: 0,
      autojoin: 0, no_track: 0, preferred_lft: 1, use_vmac: 0, track_group: 1,
    };
    for (let i = 1; i < v.words.length; i++) {
      const o = v.words[i].text;
      if (!(o in options)) { err(ctx, v, i, `Unknown configuration entry '${o}' for ip address - ignoring`); continue; }
      if (options[o] && i + 1 >= v.words.length) { err(ctx, v, i, `No ${o} parameter specified for ${s}`); return 0; }
      if (o === 'dev' && !ifExists(v.words[i + 1].text)) {
        err(ctx, v, i + 1, `WARNING - interface ${v.words[i + 1].text} for ip address ${s} doesn't exist`);
        return 0;
      }
      i += options[o];
    }
    return is6 ? 10 : 2;
  };
  const staticAddr = (ctx: ParseContext, v: Line) => { parseAddrLine(ctx, v); };
  const vip = (ctx: ParseContext, v: Line, excluded = false) => {
    const vr = cur();
    const fam = parseAddrLine(ctx, v);
    if (!fam) return;
    if (excluded) return;
    if (vr.family === 0) vr.family = fam;
    else if (vr.family !== fam) { err(ctx, v, 0, `(${vr.name}): address family must match VRRP instance [${v.words[0].text}] - ignoring`); return; }
    vr.vips.push(v.words[0].text);
  };

  const notify = (name: string): KeywordSpec => ({
    name, handler: (ctx, l) => {
      const vr = cur();
      if (vr.scripts.some((s) => s.type === name)) {
        err(ctx, l, 0, `(${vr.name}) ${name} script already specified - ignoring ${ctx.word(l, 1)}`);
        return;
      }
      const s = scriptFromLine(ctx, l, name);
      if (s) vr.scripts.push(s);
    },
  });

  const instanceKeywords: KeywordSpec[] = [
    {
      name: 'state', handler: (ctx, l) => {
        const vr = cur();
        const s = ctx.word(l, 1);
        if (s === 'MASTER') vr.state = 'MASTER';
        else if (s === 'BACKUP') {
          if (vr.state === 'MASTER') err(ctx, l, 1, `(${vr.name}) state previously set as MASTER - ignoring BACKUP`);
          else vr.state = 'BACKUP';
        } else {
          err(ctx, l, 1, `(${vr.name}) unknown state '${s}', defaulting to BACKUP`);
          vr.state = 'BACKUP';
        }
      },
    },
    {
      name: 'interface', handler: (ctx, l) => {
        const vr = cur();
        const n = ctx.word(l, 1);
        if (n.length >= 16) { err(ctx, l, 1, `Interface name '${n}' too long - ignoring`); return; }
        if (!ifExists(n)) {
          err(ctx, l, 1, `WARNING - interface ${n} for vrrp_instance ${vr.name} doesn't exist`);
          return;
        }
        if (n === 'lo') {
          err(ctx, l, 1, `(${vr.name}) cannot use a loopback interface (${n}) for vrrp - ignoring`);
          return;
        }
        vr.ifName = n;
        vr.ifLine = l;
      },
    },
    {
      name: 'virtual_router_id', handler: (ctx, l) => {
        const vr = cur();
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, 255);
        if (v === null) { err(ctx, l, 1, `(${vr.name}): VRID '${l.words[1].text}' not valid - must be between 1 & 255`); return; }
        vr.vrid = v;
      },
    },
    {
      name: 'priority', handler: (ctx, l) => {
        const vr = cur();
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, 255);
        if (v === null) { err(ctx, l, 1, `(${vr.name}) Priority not valid! must be between 1 & 255. Using default 100`); vr.priority = 100; return; }
        vr.priority = v;
      },
    },
    {
      name: 'advert_int', handler: (ctx, l) => {
        const vr = cur();
        const v = readTimer(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), TIMER_HZ / 100, 255 * TIMER_HZ);
        if (v === null || v <= 0) { err(ctx, l, 1, `(${vr.name}) Advert interval (${l.words[1].text}) not valid! Must be > 0 - ignoring`); return; }
        vr.advertIntUs = v;
      },
    },
    {
      name: 'version', handler: (ctx, l) => {
        const vr = cur();
        const v = readInt(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 2, 3);
        if (v === null) { err(ctx, l, 1, `(${vr.name}): Version must be either 2 or 3`); return; }
        if ((vr.version && vr.version !== v) || (v === 2 && vr.family === 10)) {
          err(ctx, l, 1, `(${vr.name}) vrrp_version ${v} conflicts with configured or deduced version ${vr.version}; ignoring.`);
          return;
        }
        vr.version = v as 2 | 3;
      },
    },
    valueBlock('virtual_ipaddress', vip),
    valueBlock('unicast_peer', (ctx, v) => {
      const vr = cur();
      const a = stoSockaddr(ctx.sink, ctx.pos(v), v.words[0].text, null);
      if (!a) { err(ctx, v, 0, `(${vr.name}): Unable to parse unicast peer ${v.words[0].text} - ignoring`); return; }
      vr.unicastPeers.push(a.addr);
    }),
    valueBlock('track_script', (ctx, v) => {
      const vr = cur();
      const n = v.words[0].text;
      if (!d.vrrpScripts.some((s) => s.name === n && !s.removed)) { err(ctx, v, 0, `(${vr.name}) track script ${n} not found, ignoring...`); return; }
      if (vr.trackScripts.some((t) => t.name === n)) { err(ctx, v, 0, `(${vr.name}) duplicate track_script ${n} - ignoring`); return; }
      vr.trackScripts.push({ name: n, at: ctx.pos(v) });
    }),
    valueBlock('virtual_ipaddress_excluded', (ctx, v) => vip(ctx, v, true)),
    valueBlock('track_interface', (ctx, v) => trackIf(ctx, v, cur().name)),
    ...VRRP_VALUE_BLOCKS.map((n) => valueBlock(n)),
    ...VRRP_NOTIFY.map(notify),
    {
      name: 'lvs_sync_daemon_interface', handler: (ctx, l) => {
        const vr = cur();
        err(ctx, l, 0, `(${vr.name}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.`);
        err(ctx, l, 0, `      ${' '.repeat(Math.max(0, vr.name.length - 2))}Please use global lvs_sync_daemon`);
      },
    },
    {
      name: 'mcast_src_ip', handler: (ctx, l) => srcIp(ctx, l),
    },
    {
      name: 'unicast_src_ip', handler: (ctx, l) => srcIp(ctx, l),
    },
    { name: 'nopreempt', handler: () => { cur().nopreempt = true; } },
    {
      name: 'preempt_delay', handler: (ctx, l) => {
        const vr = cur();
        const v = readTimer(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, 1000 * TIMER_HZ);
        if (v === null) { err(ctx, l, 1, `(${vr.name}) Preempt_delay not valid! must be between 0-1000`); vr.preemptDelayUs = 0; return; }
        vr.preemptDelayUs = v;
      },
    },
    {
      name: 'authentication',
      sub: [
        {
          name: 'auth_type', handler: (ctx, l) => {
            const vr = cur();
            const s = ctx.word(l, 1);
            if (s === 'AH' || s === 'PASS') vr.authType = s;
            else err(ctx, l, 1, `(${vr.name}) unknown authentication type '${s}'`);
          },
        },
        {
          name: 'auth_pass', handler: (ctx, l) => {
            const vr = cur();
            const s = ctx.word(l, 1);
            if (s.length > 8) err(ctx, l, 1, 'Truncating auth_pass to 8 characters');
            vr.authPass = s.slice(0, 8);
          },
        },
      ],
    },
    ...VRRP_PLAIN.map((name): KeywordSpec => ({ name, handler: () => {} })),
  ];

  function srcIp(ctx: ParseContext, l: Line): void {
    const vr = cur();
    const a = stoSockaddr(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), null);
    if (!a) { err(ctx, l, 1, `Configuration error: VRRP instance[${vr.name}] malformed src address[${l.words[1].text}]. Skipping...`); return; }
    if (vr.family === 0) vr.family = a.af;
    else if (a.af !== vr.family) {
      err(ctx, l, 1, `Configuration error: VRRP instance[${vr.name}] and src address[${l.words[1].text}] MUST be of the same family !!! Skipping...`);
      return;
    }
    vr.saddrFromConfig = true;
  }

  const syncGroupNotify = (name: string): KeywordSpec => ({
    name, handler: (ctx, l) => {
      const g = curGroup();
      if (g.scripts.some((s) => s.type === name)) { err(ctx, l, 0, `(${g.name}) ${name} script already specified - ignoring ${ctx.word(l, 1)}`); return; }
      const s = scriptFromLine(ctx, l, name);
      if (s) g.scripts.push(s);
    },
  });

  const noteInactive = (keyword: string, name: string | null, at: import('./diagnostics.js').Pos) => {
    if (!d.inactive.some((i) => i.keyword === keyword && i.at.line === at.line && i.at.file === at.file)) d.inactive.push({ keyword, name, at });
  };
  const plainRoot = (name: string, sub?: KeywordSpec[]): KeywordSpec => ({
    name,
    handler: (ctx, l) => { noteInactive(name, l.words[1]?.text ?? null, ctx.pos(l)); },
    ...(sub ? { sub } : {}),
  });
  const valueRoot = (name: string): KeywordSpec => ({
    name, handler: (ctx, l) => {
      d.inactive.push({ keyword: name, name: null, at: ctx.pos(l) });
      ctx.readValueBlock(l);
    },
  });

  return [
    plainRoot('track_group', [valueBlock('group')]),
    {
      name: 'static_ipaddress', handler: (ctx, l) => {
        d.inactive.push({ keyword: 'static_ipaddress', name: null, at: ctx.pos(l) });
        for (const v of ctx.readValueBlock(l)) staticAddr(ctx, v);
      },
    },
    valueRoot('static_routes'), valueRoot('static_rules'),
    {
      name: 'vrrp_sync_group',
      handler: (ctx, l) => {
        if (l.words.length !== 2) { err(ctx, l, 0, 'vrrp_sync_group must have a name - skipping'); ctx.skipBlock(true); return; }
        const name = l.words[1].text;
        if (d.syncGroups.some((g) => g.name === name)) { err(ctx, l, 1, `vrrp sync group ${name} already defined`); ctx.skipBlock(true); return; }
        const g: SyncGroupDraft = { name, at: ctx.pos(l), instances: null, scripts: [] };
        d.syncGroups.push(g);
        d.inactive.push({ keyword: 'vrrp_sync_group', name, at: g.at });
      },
      sub: [
        {
          name: 'group', handler: (ctx, l) => {
            const g = curGroup();
            if (g.instances) { err(ctx, l, 0, `Group list already specified for sync group ${g.name}`); ctx.skipBlock(true); return; }
            const values = ctx.readValueBlock(l);
            g.instances = values.flatMap((v) => v.words.map((w) => ({ name: w.text, at: { file: v.piece.file, line: v.piece.line, col: w.col } })));
            if (!g.instances.length) err(ctx, l, 0, `Warning - sync group ${g.name} has empty group block`);
          },
        },
        valueBlock('track_interface', (ctx, v) => trackIf(ctx, v, curGroup().name)), valueBlock('track_script'), valueBlock('track_file'), valueBlock('track_process'), valueBlock('track_bfd'),
        ...['notify_backup', 'notify_master', 'notify_fault', 'notify_stop', 'notify'].map(syncGroupNotify),
        ...['smtp_alert', 'global_tracking', 'sync_group_tracking_weight', 'notify_priority_changes'].map((name): KeywordSpec => ({ name, handler: () => {} })),
      ],
    },
    plainRoot('garp_group', ['garp_interval', 'gna_interval', 'interface'].map((name): KeywordSpec => ({ name, handler: () => {} })).concat([valueBlock('interfaces')])),
    valueRoot('linkbeat_interfaces'),
    {
      name: 'vrrp_instance',
      handler: (ctx, l) => {
        if (l.words.length !== 2) { err(ctx, l, 0, 'vrrp_instance must have a name'); ctx.skipBlock(true); return; }
        const name = l.words[1].text;
        if (d.vrrp.some((v) => v.name === name)) { err(ctx, l, 1, `vrrp instance ${name} already defined`); ctx.skipBlock(true); return; }
        const vr: VrrpDraft = {
          name, at: ctx.pos(l), state: null, ifName: null, ifLine: null, vrid: 0, priority: 0, advertIntUs: 0, version: 0, family: 0, vips: [],
          authType: null, authPass: null, nopreempt: false, preemptDelayUs: 0, unicastConfigured: false, unicastPeers: [], saddrFromConfig: false,
          trackScripts: [], scripts: [], ttl: -1, strict: null,
        };
        d.vrrp.push(vr);
        d.inactive.push({ keyword: 'vrrp_instance', name, at: vr.at });
      },
      sub: instanceKeywords.map((k) => k.name === 'unicast_peer'
        ? { ...k, handler: (ctx: ParseContext, l: Line) => { cur().unicastConfigured = true; k.handler!(ctx, l); } }
        : k),
      end: (ctx) => {
        const vr = cur();
        if (vr.unicastPeers.length === 0 && vr.ttl !== -1) {
          ctx.sink.report(CONFIG_GENERAL_ERROR, ctx.endPos, `(${vr.name}): Cannot use unicast_ttl without unicast peers - resetting`);
        }
      },
    },
    {
      name: 'vrrp_script',
      handler: (ctx, l) => {
        const name = ctx.word(l, 1);
        const s: VrrpScriptDraft = { name, at: ctx.pos(l), script: null, intervalS: 1, weight: 0, userSet: null, removed: false };
        d.vrrpScripts.push(s);
      },
      sub: [
        {
          name: 'script', handler: (ctx, l) => {
            const qe = ctx.quotedEscaped(l);
            if (!qe || qe.length < 2) return;
            const s = scriptFromLine(ctx, l, 'vrrp');
            if (s) curScript().script = { ...s, user: null, group: null };
          },
        },
        {
          name: 'interval', handler: (ctx, l) => {
            const sc = curScript();
            const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, Math.floor(4294967295 / TIMER_HZ));
            if (v === null) { err(ctx, l, 1, `(${sc.name}): vrrp script interval '${l.words[1].text}' must be between 1 and ${Math.floor(4294967295 / TIMER_HZ)} - ignoring`); return; }
            if (v === 0) { err(ctx, l, 1, `(${sc.name}): vrrp script interval must be greater than 0, setting to 1`); sc.intervalS = 1; return; }
            sc.intervalS = v;
          },
        },
        { name: 'timeout', handler: () => {} },
        {
          name: 'weight', handler: (ctx, l) => {
            const sc = curScript();
            const v = readInt(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), -253, 253);
            if (v === null) err(ctx, l, 1, `vrrp_script ${sc.name} weight ${l.words[1].text} must be in [-253, 253]`);
            else sc.weight = v;
            if (l.words.length >= 3 && l.words[2].text !== 'reverse') err(ctx, l, 2, `vrrp_script ${sc.name} unknown weight option ${l.words[2].text}`);
          },
        },
        ...(['rise', 'fall'] as const).map((name): KeywordSpec => ({
          name, handler: (ctx, l) => {
            const sc = curScript();
            const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, 2147483647);
            if (v === null) err(ctx, l, 1, `(${sc.name}): vrrp script ${name} value '${l.words[1].text}' invalid, defaulting to 1`);
          },
        })),
        {
          name: 'user', handler: (ctx, l) => {
            const sc = curScript();
            if (l.words.length < 2) { err(ctx, l, 0, `No user specified for vrrp script ${sc.name}`); return; }
            sc.userSet = { user: l.words[1].text, group: l.words[2]?.text ?? null };
          },
        },
        { name: 'init_fail', handler: () => {} },
      ],
      end: (ctx) => {
        const sc = curScript();
        if (!sc.script) {
          ctx.sink.report(CONFIG_GENERAL_ERROR, ctx.endPos, `No script set for vrrp_script ${sc.name} - removing`);
          sc.removed = true;
          return;
        }
        if (sc.userSet) sc.script = { ...sc.script, user: sc.userSet.user, group: sc.userSet.group };
      },
    },
    plainRoot('vrrp_track_process', ['process', 'param_match', 'weight', 'quorum', 'quorum_max', 'delay', 'terminate_delay', 'fork_delay', 'full_command']
      .map((name): KeywordSpec => ({ name, handler: () => {} }))),
    valueRoot('interface_up_down_delays'),
    plainRoot('bfd_instance', ['source_ip', 'neighbor_ip', 'neighbour_ip', 'min_rx', 'min_tx', 'idle_tx', 'multiplier', 'passive', 'ttl', 'hoplimit', 'max_hops', 'weight', 'vrrp', 'checker']
      .map((name): KeywordSpec => ({ name, handler: () => {} }))),
  ];
}
