/**
 * global_defs and the other daemon-wide top-level keywords (keepalived/core/global_parser.c
 * init_global_keywords). The keywords that matter to an LVS director are handled with
 * keepalived's messages; the others (VRRP tuning, SNMP, D-Bus, process priorities...) are
 * accepted with their words kept in GlobalDefs.keywords, exactly the set Debian's 2.2.7 build
 * knows (vrrp_ipsets is absent: that build has no libipset).
 */
import { CONFIG_GENERAL_ERROR } from './diagnostics.js';
import { scriptFromLine } from './check-keywords.js';
import type { Draft } from './model.js';
import type { KeywordSpec, Line, ParseContext } from './parser.js';
import type { ScriptUsers } from './scripts.js';
import { checkTrueFalse, readInt, readUnsigned, stoSockaddr } from './values.js';

const OTHER_GLOBAL_KEYWORDS = [
  'process_names', 'process_name', 'vrrp_process_name', 'checker_process_name', 'lvs_process_name', 'bfd_process_name',
  'notification_email_from', 'smtp_server', 'smtp_helo_name', 'smtp_connect_timeout', 'startup_script_timeout', 'shutdown_script_timeout',
  'max_auto_priority', 'min_auto_priority_delay', 'smtp_alert_vrrp', 'dynamic_interfaces', 'no_email_faults', 'default_interface',
  'disable_local_igmp', 'vrrp_mcast_group4', 'vrrp_mcast_group6', 'vrrp_garp_master_delay', 'vrrp_garp_master_repeat',
  'vrrp_garp_master_refresh', 'vrrp_garp_master_refresh_repeat', 'vrrp_garp_lower_prio_delay', 'vrrp_garp_lower_prio_repeat',
  'vrrp_down_timer_adverts', 'vrrp_garp_interval', 'vrrp_gna_interval', 'vrrp_min_garp', 'vrrp_garp_extra_if', 'vrrp_vmac_garp_intvl',
  'vrrp_lower_prio_no_advert', 'vrrp_higher_prio_send_advert', 'vrrp_iptables', 'nftables', 'nftables_priority', 'nftables_ifindex',
  'nftables_ipvs', 'nftables_ipvs_priority', 'nftables_ipvs_start_fwmark', 'nftables_counters', 'vrrp_check_unicast_src',
  'vrrp_skip_check_adv_addr', 'vrrp_priority', 'vrrp_no_swap', 'vrrp_rt_priority', 'vrrp_cpu_affinity', 'vrrp_rlimit_rttime',
  'vrrp_rlimit_rtime', 'vrrp_notify_fifo', 'vrrp_notify_priority_changes', 'fifo_write_vrrp_states_on_reload', 'checker_priority',
  'checker_no_swap', 'checker_rt_priority', 'checker_cpu_affinity', 'checker_rlimit_rttime', 'checker_rlimit_rtime', 'bfd_priority',
  'bfd_no_swap', 'bfd_rt_priority', 'bfd_cpu_affinity', 'bfd_rlimit_rttime', 'bfd_rlimit_rtime', 'snmp_socket', 'enable_traps',
  'enable_snmp_vrrp', 'enable_snmp_keepalived', 'enable_snmp_rfc', 'enable_snmp_rfcv2', 'enable_snmp_rfcv3', 'enable_snmp_checker',
  'enable_dbus', 'dbus_service_name', 'vrrp_netlink_cmd_rcv_bufs', 'vrrp_netlink_cmd_rcv_bufs_force', 'vrrp_netlink_monitor_rcv_bufs',
  'vrrp_netlink_monitor_rcv_bufs_force', 'process_monitor_rcv_bufs', 'process_monitor_rcv_bufs_force', 'lvs_netlink_cmd_rcv_bufs',
  'lvs_netlink_cmd_rcv_bufs_force', 'lvs_netlink_monitor_rcv_bufs', 'lvs_netlink_monitor_rcv_bufs_force', 'no_checker_emails',
  'vrrp_rx_bufs_policy', 'vrrp_rx_bufs_multiplier', 'vrrp_startup_delay', 'log_unknown_vrids', 'vmac_prefix', 'vmac_addr_prefix', 'umask',
  'random_seed', 'reload_check_config', 'reload_time_file', 'reload_repeat', 'reload_file', 'include_check', 'config_save_dir',
  'tmp_config_directory', 'data_use_instance',
];

const LVS_MAX_TIMEOUT = 86400 * 31;

export function globalRootKeywords(d: Draft, users: ScriptUsers): KeywordSpec[] {
  const g = d.global;
  const err = (ctx: ParseContext, l: Line, i: number, text: string) => ctx.sink.report(CONFIG_GENERAL_ERROR, ctx.pos(l, i), text);
  const keep = (l: Line) => { g.keywords.push({ name: l.words[0].text, args: l.words.slice(1).map((w) => w.text), at: { file: l.piece.file, line: l.piece.line, col: l.words[0].col } }); };
  const bool = (what: string, set: (v: 0 | 1) => void, message?: (s: string) => string): KeywordSpec['handler'] => (ctx, l) => {
    keep(l);
    let v: 0 | 1 = 1;
    if (l.words.length >= 2) {
      const r = checkTrueFalse(l.words[1].text);
      if (r < 0) { err(ctx, l, 1, message ? message(l.words[1].text) : `Invalid value '${l.words[1].text}' for global ${what} specified`); return; }
      v = r as 0 | 1;
    }
    set(v);
  };
  const fifo = (prefix: string, set: (name: string) => void, has: () => boolean): KeywordSpec['handler'] => (ctx, l) => {
    keep(l);
    if (l.words.length < 2) { err(ctx, l, 0, `No ${prefix}notify_fifo name specified`); return; }
    if (has()) { err(ctx, l, 1, `${prefix}notify_fifo already specified - ignoring ${l.words[1].text}`); return; }
    if (l.words.length > 2) {
      if (!users.lookup(l.words[2].text, l.words[3]?.text ?? null, ctx.pos(l, 2))) {
        ctx.sink.log(ctx.pos(l, 2), `Invalid user/group for ${prefix} fifo (null) - ignoring`);
        return;
      }
    } else if (!users.getDefault(g.enableScriptSecurity, ctx.pos(l))) {
      ctx.sink.log(ctx.pos(l), `Failed to set default user for ${prefix} fifo (null) - ignoring`);
      return;
    }
    set(l.words[1].text);
  };
  const fifoScript = (prefix: string, key: 'notifyFifoScript' | 'lvsNotifyFifoScript' | 'vrrpNotifyFifoScript'): KeywordSpec['handler'] => (ctx, l) => {
    keep(l);
    if (l.words.length < 2) { err(ctx, l, 0, `No ${prefix}notify_fifo_script specified`); return; }
    if (g[key]) { err(ctx, l, 1, `${prefix}notify_fifo_script already specified - ignoring ${l.words[1].text}`); return; }
    g[key] = scriptFromLine(ctx, l, `${prefix}notify_fifo`);
  };
  const startStop = (type: 'startup' | 'shutdown'): KeywordSpec['handler'] => (ctx, l) => {
    keep(l);
    const key = type === 'startup' ? 'startupScript' : 'shutdownScript';
    if (g[key]) { err(ctx, l, 0, `${type} script already specified`); return; }
    if (l.words.length < 2) { err(ctx, l, 0, `${type} script missing`); return; }
    const s = scriptFromLine(ctx, l, type);
    if (!s) { err(ctx, l, 1, `Invalid ${type} script`); return; }
    g[key] = s;
  };

  const handled: KeywordSpec[] = [
    {
      name: 'router_id', handler: (ctx, l) => {
        keep(l);
        if (l.words.length < 2) { err(ctx, l, 0, 'routerid name missing - ignoring'); return; }
        g.routerId = l.words[1].text;
      },
    },
    {
      name: 'notification_email', handler: (ctx, l) => {
        keep(l);
        if (ctx.readValueBlock(l).length === 0) ctx.sink.report(CONFIG_GENERAL_ERROR, ctx.endPos, 'Warning - empty notification_email block');
      },
    },
    {
      name: 'notification_email_from', handler: (ctx, l) => {
        keep(l);
        if (l.words.length < 2) err(ctx, l, 0, 'emailfrom missing - ignoring');
      },
    },
    {
      name: 'smtp_connect_timeout', handler: (ctx, l) => {
        keep(l);
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, Math.floor(4294967295 / 1_000_000));
        if (v === null) { err(ctx, l, 1, `smtp_connect_timeout '${l.words[1].text}' must be in [0, ${Math.floor(4294967295 / 1_000_000)}] - ignoring`); return; }
        if (v === 0) err(ctx, l, 1, 'smtp_conect_timeout must be greater than 0, setting to 1');
      },
    },
    { name: 'smtp_alert', handler: bool('smtp_alert', (v) => { g.smtpAlert = v; }) },
    { name: 'smtp_alert_checker', handler: bool('smtp_alert_checker', (v) => { g.smtpAlertChecker = v; }) },
    { name: 'checker_log_all_failures', handler: bool('', (v) => { g.checkerLogAllFailures = v === 1; }, () => 'Invalid value for checker_log_all_failures specified') },
    { name: 'rs_init_notifies', handler: bool('rs_init_notifies', (v) => { g.rsInitNotifies = v === 1; }) },
    { name: 'startup_script', handler: startStop('startup') },
    { name: 'shutdown_script', handler: startStop('shutdown') },
    {
      name: 'lvs_timeouts', handler: (ctx, l) => {
        keep(l);
        const w = l.words;
        if (w.length < 3) { err(ctx, l, 0, 'lvs_timeouts requires at least one option'); return; }
        for (let i = 1; i < w.length; i++) {
          const o = w[i].text;
          if (o === 'tcp' || o === 'tcpfin' || o === 'udp') {
            if (i === w.length - 1) { err(ctx, l, i, `No value specified for lvs_timeout ${o} - ignoring`); continue; }
            const v = readUnsigned(ctx.sink, ctx.pos(l, i + 1), w[i + 1].text, 0, LVS_MAX_TIMEOUT);
            if (v === null) err(ctx, l, i + 1, `Invalid lvs_timeout ${o} (${w[i + 1].text}) - ignoring`);
            else g.lvsTimeouts[o] = v;
            i++;
            continue;
          }
          err(ctx, l, i, `Unknown option ${o} specified for lvs_timeouts`);
        }
      },
    },
    { name: 'lvs_flush', handler: (_ctx, l) => { keep(l); g.lvsFlush = true; } },
    ...['lvs_flush_on_stop', 'lvs_flush_onstop'].map((name): KeywordSpec => ({
      name, handler: (ctx, l) => {
        keep(l);
        if (l.words.length === 1) g.lvsFlushOnStop = 'full';
        else if (l.words[1].text === 'VS') g.lvsFlushOnStop = 'vs';
        else err(ctx, l, 1, `Unknown lvs_flush_on_stop type ${l.words[1].text}`);
      },
    })),
    {
      name: 'lvs_sync_daemon', handler: (ctx, l) => {
        keep(l);
        const w = l.words;
        if (g.lvsSyncDaemon) { err(ctx, l, 0, `lvs_sync_daemon has already been specified as ${g.lvsSyncDaemon.interface} ${g.lvsSyncDaemon.instance ?? ''} - ignoring`); return; }
        if (w.length < 2) { err(ctx, l, 0, 'lvs_sync_daemon requires interface'); return; }
        if (w[1].text.length >= 16) { err(ctx, l, 1, `lvs_sync_daemon interface name '${w[1].text}' too long - ignoring`); return; }
        const sd = { interface: w[1].text, instance: null as string | null, syncId: -1 };
        g.lvsSyncDaemon = sd;
        for (let i = 2; i < w.length; i++) {
          const o = w[i].text;
          if (o === 'inst') {
            if (sd.instance) err(ctx, l, i, `lvs_sync_daemon vrrp instance has already been specified as ${sd.instance} - ignoring`);
            else sd.instance = ctx.word(l, i + 1);
            i++;
            continue;
          }
          const num = (name: string, min: number, max: number, bad: (s: string) => string, set: (v: number) => void) => {
            if (i === w.length - 1) { err(ctx, l, i, name === 'id' ? 'No value specified for lvs_sync_daemon id, defaulting to vrid' : `No value specified for lvs_sync_daemon ${name} - ignoring`); return; }
            const v = readUnsigned(ctx.sink, ctx.pos(l, i + 1), w[i + 1].text, min, max);
            if (v === null) err(ctx, l, i + 1, bad(w[i + 1].text));
            else set(v);
            i++;
          };
          if (o === 'id') { num('id', 0, 255, (s) => `Invalid syncid (${s}) - defaulting to vrid`, (v) => { sd.syncId = v; }); continue; }
          if (o === 'maxlen') { num('maxlen', 1, 65535 - 20 - 8, (s) => `Invalid lvs_sync_daemon maxlen (${s}) - ignoring`, () => {}); continue; }
          if (o === 'port') { num('port', 1, 65535, (s) => `Invalid lvs_sync_daemon port (${s}) - ignoring`, () => {}); continue; }
          if (o === 'ttl') { num('ttl', 1, 255, (s) => `Invalid lvs_sync_daemon ttl (${s}) - ignoring`, () => {}); continue; }
          if (o === 'group') {
            if (i === w.length - 1) { err(ctx, l, i, 'No value specified for lvs_sync_daemon group - ignoring'); continue; }
            const a = stoSockaddr(ctx.sink, ctx.pos(l, i + 1), w[i + 1].text, null);
            if (!a) err(ctx, l, i + 1, `Invalid lvs_sync_daemon group (${w[i + 1].text}) - ignoring`);
            else if ((a.af === 2 && (a.bytes[0] & 0xf0) !== 0xe0) || (a.af === 10 && a.bytes[0] !== 0xff)) {
              err(ctx, l, i + 1, `lvs_sync_daemon group address ${w[i + 1].text} is not multicast - ignoring`);
            }
            i++;
            continue;
          }
          if (i === 2) { sd.instance = o; continue; }
          if (i === 3) {
            const v = readUnsigned(ctx.sink, ctx.pos(l, 3), o, 0, 255);
            if (v === null) err(ctx, l, 3, `Invalid syncid (${o}) - defaulting to vrid`);
            else { err(ctx, l, 3, 'Please use keyword "id" before lvs_sync_daemon SYNCID'); sd.syncId = v; }
            continue;
          }
          err(ctx, l, i, `Unknown option ${o} specified for lvs_sync_daemon`);
        }
      },
    },
    { name: 'notify_fifo', handler: fifo('', (n) => { g.notifyFifo = n; }, () => g.notifyFifo !== null) },
    { name: 'notify_fifo_script', handler: fifoScript('', 'notifyFifoScript') },
    { name: 'lvs_notify_fifo', handler: fifo('lvs_', (n) => { g.lvsNotifyFifo = n; }, () => g.lvsNotifyFifo !== null) },
    { name: 'lvs_notify_fifo_script', handler: fifoScript('lvs_', 'lvsNotifyFifoScript') },
    { name: 'vrrp_notify_fifo_script', handler: fifoScript('vrrp_', 'vrrpNotifyFifoScript') },
    {
      name: 'script_user', handler: (ctx, l) => {
        keep(l);
        if (l.words.length < 2) { err(ctx, l, 0, 'No script username specified'); return; }
        g.scriptUser = { user: l.words[1].text, group: l.words[2]?.text ?? null, at: ctx.pos(l, 1) };
        if (!users.setDefault(l.words[1].text, l.words[2]?.text ?? null, ctx.pos(l, 1))) err(ctx, l, 1, 'Error setting global script uid/gid');
      },
    },
    { name: 'enable_script_security', handler: (_ctx, l) => { keep(l); g.enableScriptSecurity = true; } },
    {
      name: 'vrrp_version', handler: (ctx, l) => {
        keep(l);
        const v = readInt(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 2, 3);
        if (v === null) { err(ctx, l, 1, 'VRRP Error: Version must be either 2 or 3'); return; }
        g.vrrpVersion = v as 2 | 3;
      },
    },
    { name: 'vrrp_strict', handler: (_ctx, l) => { keep(l); g.vrrpStrict = true; } },
  ];
  const handledNames = new Set(handled.map((k) => k.name));
  const others: KeywordSpec[] = OTHER_GLOBAL_KEYWORDS.filter((n) => !handledNames.has(n)).map((name) => ({ name, handler: (_ctx, l) => keep(l) }));
  const globalDefs: KeywordSpec = { name: 'global_defs', sub: [...handled, ...others] };

  const rootFlag = (name: string): KeywordSpec => ({ name, handler: () => {} });
  return [
    rootFlag('linkbeat_use_polling'), rootFlag('net_namespace'), rootFlag('net_namespace_ipvs'), rootFlag('namespace_with_ipsets'),
    rootFlag('use_pid_dir'), rootFlag('instance'),
    {
      name: 'child_wait_time', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, 4294967295);
        if (v === null) err(ctx, l, 1, `Invalid child_wait_time ${l.words[1].text}`);
      },
    },
    globalDefs,
  ];
}
