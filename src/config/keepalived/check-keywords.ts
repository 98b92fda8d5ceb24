/**
 * The LVS keywords of keepalived.conf: SSL, virtual_server_group, virtual_server, real_server,
 * sorry_server and every checker block, with keepalived 2.2.7's handlers and messages
 * (keepalived/check/check_parser.c, check_api.c install_checker_common_keywords, check_data.c
 * alloc_vs/alloc_rs/alloc_vsg_entry/alloc_ssvr, check_{tcp,http,misc,dns,smtp,udp,ping,file,bfd}.c,
 * keepalived/trackers/track_file.c). Owns nothing but the handlers; the state is the Draft.
 */
import { CONFIG_GENERAL_ERROR, CONFIG_INVALID_NUMBER, type Pos } from './diagnostics.js';
import {
  type CheckerDraft, type CheckerKindDraft, type ConnDraft, type Draft, FWD_MASQ, FWD_ROUTE, FWD_TUNNEL, FWD_UNSET, formatVs, IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2, IP_VS_SVC_F_SCHED3, IPVS_FWMARK_MAX, IPVS_SVC_PERSISTENT_TIMEOUT, IPVS_WEIGHT_LIMIT,
  KEEPALIVED_DEFAULT_DELAY_US, LVS_MAX_TIMEOUT, newChecker, type RsDraft, type ScriptDraft, type TunnelDraft, type UrlDraft, type VsDraft,
  type VsgDraft,
} from './model.js';
import type { KeywordSpec, Line, ParseContext } from './parser.js';
import {
  checkTrueFalse, inetPton4, ntop6 as ntop6Bytes, portOrNull, readHexStr, readInt, readTimer, readUnsigned, stoSockaddr, type SockAddr, UINT_MAX,
} from './values.js';
import { splitQuotedEscaped } from './lexer.js';
import { cmdStr } from './scripts.js';

/** keepalived/check/check_parser.c lvs_schedulers. */
export const LVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'sh', 'mh', 'dh', 'fo', 'ovf', 'lblcr', 'sed', 'nq', 'twos'] as const;

/** keepalived/check/check_dns.c DNS_TYPE. */
export const DNS_TYPES: ReadonlyArray<readonly [string, number]> = [
  ['A', 1], ['NS', 2], ['CNAME', 5], ['SOA', 6], ['MX', 15], ['TXT', 16], ['AAAA', 28], ['RRSIG', 46], ['DNSKEY', 48],
];

const REGEX_OPTIONS = ['allow_empty_class', 'alt_bsux', 'auto_callout', 'caseless', 'dollar_endonly', 'dotall', 'dupnames', 'extended',
  'firstline', 'match_unset_backref', 'multiline', 'never_ucp', 'never_utf', 'no_auto_capture', 'no_auto_possess', 'no_dotstar_anchor',
  'no_start_optimize', 'ucp', 'ungreedy', 'utf', 'never_backslash_c', 'alt_circumflex', 'alt_verbnames', 'use_offset_limit'];

const TIMER_HZ = 1_000_000;

/** Parsing state the LVS handlers share: the draft and the "current" objects keepalived keeps as list tails. */
export class CheckState {
  readonly d: Draft;
  currentTrackFile: import('./model.js').TrackFileDraft | null = null;
  regexPattern: string | null = null;

  constructor(d: Draft) {
    this.d = d;
  }

  vs(): VsDraft {
    return this.d.vs[this.d.vs.length - 1];
  }

  rs(): RsDraft {
    const rs = this.vs().rs;
    return rs[rs.length - 1];
  }

  checker(): CheckerDraft {
    const ch = this.rs().checkers;
    return ch[ch.length - 1];
  }

  url(): UrlDraft {
    const u = this.checker().urls;
    return u[u.length - 1];
  }
}

const err = (ctx: ParseContext, pos: Pos, text: string, message?: string) => ctx.sink.report(CONFIG_GENERAL_ERROR, pos, text, message);

/** A script keyword line, as lib/notify.c notify_script_init (user/group words after the script). */
export function scriptFromLine(ctx: ParseContext, line: Line, type: string): ScriptDraft | null {
  const qe = ctx.quotedEscaped(line);
  if (!qe) {
    ctx.sink.log(ctx.pos(line), 'Unable to parse notify script');
    return null;
  }
  if (qe.length < 2) ctx.word(line, 1);
  const args = splitQuotedEscaped(qe[1]);
  if (args.error || args.words.length === 0) {
    ctx.sink.log(ctx.pos(line), `Unable to parse script '${qe[1]}' - ignoring`);
    return null;
  }
  return { argv: args.words, user: qe.length > 2 ? qe[2] : null, group: qe.length > 3 ? qe[3] : null, at: ctx.pos(line, 1), type, seq: ctx.nextSeq(), userPos: ctx.pos(line) };
}

/** keepalived/check/check_parser.c svr_forwarding_handler. Applies to `t` only when valid. */
function forwarding(ctx: ParseContext, line: Line, t: TunnelDraft, sType: string): void {
  const str = ctx.word(line, 1);
  let fwd: number;
  if (str === 'NAT') fwd = FWD_MASQ;
  else if (str === 'DR') fwd = FWD_ROUTE;
  else if (str === 'TUN') fwd = FWD_TUNNEL;
  else {
    err(ctx, ctx.pos(line, 1), `PARSER : unknown [${str}] routing method for ${sType} server.`,
      `PARSER : unknown [${str}] routing method for ${sType} server.; use NAT, DR or TUN (upper case)`);
    return;
  }
  t.fwd = fwd;
  let tunType = 0;
  let port = 0;
  let csum = 0;
  const w = line.words;
  for (let i = 2; i < w.length; i++) {
    const s = w[i].text;
    if (s === 'type') {
      if (i + 1 === w.length) { err(ctx, ctx.pos(line, i), `Missing tunnel type for ${sType} server.`); return; }
      const v = w[i + 1].text;
      if (v === 'ipip') tunType = 0;
      else if (v === 'gue') tunType = 1;
      else if (v === 'gre') tunType = 2;
      else { err(ctx, ctx.pos(line, i + 1), `Unknown tunnel type ${v} for ${sType} server.`); return; }
      i++;
    } else if (s === 'port') {
      if (i + 1 === w.length) { err(ctx, ctx.pos(line, i), `Missing port for ${sType} server gue tunnel.`); return; }
      const p = readUnsigned(ctx.sink, ctx.pos(line, i + 1), w[i + 1].text, 1, 65535);
      if (p === null) { err(ctx, ctx.pos(line, i + 1), `Invalid gue tunnel port ${w[i + 1].text} for ${sType} server.`); return; }
      port = p;
      i++;
    } else if (s === 'nocsum') csum = 0;
    else if (s === 'csum') csum = 1;
    else if (s === 'remcsum') csum = 2;
    else { err(ctx, ctx.pos(line, i), `Invalid tunnel option ${s} for ${sType} server.`); return; }
  }
  if ((tunType === 1) !== (port !== 0)) { err(ctx, ctx.pos(line, 1), 'gue tunnels require port, otherwise cannot have port.'); return; }
  if (tunType === 0 && csum !== 0) { err(ctx, ctx.pos(line, 1), 'ipip tunnels do not support checksum option.'); return; }
  if (tunType === 2 && csum === 2) { err(ctx, ctx.pos(line, 1), 'gre tunnels do not support remote checksum option.'); return; }
  t.tunType = tunType;
  t.tunPort = port;
  t.tunFlags = csum;
}

function boolOpt(ctx: ParseContext, line: Line, what: string): 0 | 1 | null {
  if (line.words.length < 2) return 1;
  const r = checkTrueFalse(line.words[1].text);
  if (r === -1) {
    err(ctx, ctx.pos(line, 1), `Invalid ${what} parameter ${line.words[1].text}`);
    return null;
  }
  return r;
}

// ---------------------------------------------------------------- checkers

function commonCheckerKeywords(st: CheckState, connection: boolean): KeywordSpec[] {
  const co = () => st.checker().co!;
  const conn: KeywordSpec[] = [
    {
      name: 'connect_ip', handler: (ctx, l) => {
        const c = co();
        const a = stoSockaddr(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), null);
        if (!a) err(ctx, ctx.pos(l, 1), `Invalid connect_ip address ${l.words[1].text} - ignoring`);
        else if (c.bindto.af !== 0 && c.bindto.af !== a.af) {
          err(ctx, ctx.pos(l, 1), `connect_ip address ${l.words[1].text} does not match address family of bindto - skipping`);
          c.dst = { af: 0, addr: null, port: c.dst.port };
        } else c.dst = { af: a.af, addr: a, port: c.dst.port };
      },
    },
    {
      name: 'connect_port', handler: (ctx, l) => {
        const p = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, 65535);
        if (p === null) { err(ctx, ctx.pos(l, 1), `Invalid checker connect_port '${l.words[1].text}'`); return; }
        co().dst.port = p;
      },
    },
    {
      name: 'bindto', handler: (ctx, l) => {
        const c = co();
        const a = stoSockaddr(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), null);
        if (!a) err(ctx, ctx.pos(l, 1), `Invalid bindto address ${l.words[1].text} - ignoring`);
        else if (c.dst.af !== 0 && c.dst.af !== a.af) {
          err(ctx, ctx.pos(l, 1), `bindto address ${l.words[1].text} does not match address family of connect_ip - skipping`);
          c.bindto = { af: 0, addr: null, port: c.bindto.port };
        } else c.bindto = { af: a.af, addr: a, port: c.bindto.port };
      },
    },
    {
      name: 'bind_port', handler: (ctx, l) => {
        const p = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, 65535);
        if (p === null) { err(ctx, ctx.pos(l, 1), `Invalid checker bind_port '${l.words[1].text}'`); return; }
        co().bindto.port = p;
      },
    },
    {
      name: 'bind_if', handler: (ctx, l) => {
        const n = ctx.word(l, 1);
        if (n.length > 15) { err(ctx, ctx.pos(l, 1), `Interface name ${n} is too long - ignoring`); return; }
        co().bindIf = n;
      },
    },
    {
      name: 'connect_timeout', handler: (ctx, l) => {
        const t = readTimer(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, UINT_MAX);
        if (t === null) { err(ctx, ctx.pos(l, 1), `connect_timeout ${l.words[1].text} invalid - ignoring`); return; }
        co().connectTimeoutUs = t;
      },
    },
    {
      name: 'fwmark', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, UINT_MAX);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid fwmark connection value '${l.words[1].text}'`); return; }
        co().fwmark = v;
      },
    },
  ];
  const common: KeywordSpec[] = [
    {
      name: 'retry', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, UINT_MAX);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid retry connection value '${l.words[1].text}'`); return; }
        st.checker().retry = v;
      },
    },
    {
      name: 'delay_before_retry', handler: (ctx, l) => {
        const v = readTimer(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, 0);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid delay_before_retry connection value '${l.words[1].text}'`); return; }
        st.checker().delayBeforeRetryUs = v;
      },
    },
    {
      name: 'warmup', handler: (ctx, l) => {
        const v = readTimer(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, 0);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid warmup connection value '${l.words[1].text}'`); return; }
        st.checker().warmupUs = v;
      },
    },
    {
      name: 'delay_loop', handler: (ctx, l) => {
        const v = readTimer(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, 0);
        if (v === null) { err(ctx, ctx.pos(l, 1), `delay_loop '${l.words[1].text}' is invalid - ignoring`); return; }
        st.checker().delayLoopUs = v;
      },
    },
    {
      name: 'alpha', handler: (ctx, l) => {
        const r = boolOpt(ctx, l, 'alpha');
        if (r !== null) st.checker().alpha = r;
      },
    },
    {
      name: 'log_all_failures', handler: (ctx, l) => {
        const r = boolOpt(ctx, l, 'log_all_failures');
        if (r !== null) st.checker().logAllFailures = r === 1;
      },
    },
  ];
  return connection ? [...conn, ...common] : common;
}

function queue(st: CheckState, kind: CheckerKindDraft, ctx: ParseContext, line: Line, withCo: boolean): CheckerDraft {
  const c = newChecker(kind, ctx.pos(line), withCo);
  const rs = st.rs();
  // check_api.c queue_checker: the probe goes to the RS address and port *as written* (an RS
  // written without a port makes its checkers probe port 0 unless connect_port is given).
  if (c.co) c.co.dst = { af: rs.addr.af, addr: rs.addr, port: rs.addr.port };
  rs.checkers.push(c);
  return c;
}

/** keepalived/check/check_api.c check_conn_opts: a link-local destination needs bind_if. */
function checkConnOpts(st: CheckState, ctx: ParseContext, c: CheckerDraft): boolean {
  const co = c.co;
  if (!co) return true;
  const dst = co.dst.addr ?? st.rs().addr;
  if (dst.af === 10 && dst.bytes[0] === 0xfe && (dst.bytes[1] & 0xc0) === 0x80 && !co.bindIf) {
    err(ctx, ctx.endPos, `Checker link local address ${dst.addr} requires a bind_if`);
    return false;
  }
  return true;
}

function tcpCheck(st: CheckState): KeywordSpec {
  return {
    name: 'TCP_CHECK',
    handler: (ctx, l) => { queue(st, 'TCP_CHECK', ctx, l, true); },
    sub: commonCheckerKeywords(st, true),
    end: (ctx) => { const c = st.checker(); if (!checkConnOpts(st, ctx, c)) c.removed = true; },
  };
}

function pingCheck(st: CheckState): KeywordSpec {
  return {
    name: 'PING_CHECK',
    handler: (ctx, l) => { queue(st, 'PING_CHECK', ctx, l, true); },
    sub: commonCheckerKeywords(st, true),
    end: (ctx) => { const c = st.checker(); if (!checkConnOpts(st, ctx, c)) c.removed = true; },
  };
}

function httpCheck(st: CheckState, name: 'HTTP_GET' | 'SSL_GET'): KeywordSpec {
  const urlKeywords: KeywordSpec[] = [
    { name: 'path', handler: (ctx, l) => { st.url().path = ctx.word(l, 1); } },
    {
      name: 'digest', handler: (ctx, l) => {
        const u = st.url();
        const digest = ctx.word(l, 1);
        if (u.digest !== null) { err(ctx, ctx.pos(l, 1), `Digest '${digest}' is a duplicate`); return; }
        if (digest.length !== 32) {
          err(ctx, ctx.pos(l, 1), `digest '${digest}' character length should be 32 rather than ${digest.length}`);
          return;
        }
        // check_http.c parses pairs from the end with strtoul(.., 16): report the first bad pair from the end.
        for (let i = 15; i >= 0; i--) {
          const pair = digest.slice(2 * i, 2 * i + 2);
          if (!/^[0-9a-fA-F]{2}$/.test(pair)) {
            err(ctx, ctx.pos(l, 1), `Unable to interpret hex digit in '${digest.slice(0, 2 * i + 2)}' at offset ${2 * i}/${2 * i + 1}`);
            return;
          }
        }
        u.digest = digest.toLowerCase();
      },
    },
    {
      name: 'status_code', handler: (ctx, l) => {
        const u = st.url();
        for (let i = 1; i < l.words.length; i++) {
          const s = l.words[i].text;
          const m = /^\s*\+?(\d*)(?:-\s*\+?(\d*))?(.*)$/s.exec(s);
          let ok = false;
          let min = 0;
          let max = 0;
          if (m) {
            min = m[1] === '' ? 0 : Number(m[1]);
            max = m[2] !== undefined ? (m[2] === '' ? 0 : Number(m[2])) : min;
            ok = m[3] === '' && min >= 100 && min <= 599 && max >= 100 && max <= 599 && min <= max;
          }
          if (!ok) { err(ctx, ctx.pos(l, i), `Invalid HTTP_GET status code '${s}'`); continue; }
          for (let c = min; c <= max; c++) u.status.add(c);
        }
      },
    },
    {
      name: 'virtualhost', handler: (ctx, l) => {
        if (l.words.length < 2) { err(ctx, ctx.pos(l), 'Missing HTTP_GET virtualhost name'); return; }
        st.url().virtualhost = l.words[1].text;
      },
    },
    {
      name: 'regex', handler: (ctx, l) => {
        const qe = ctx.quotedEscaped(l);
        if (!qe || qe.length !== 2) { ctx.sink.log(ctx.pos(l), 'regex missing or too many fields'); return; }
        st.regexPattern = qe[1];
      },
    },
    { name: 'regex_no_match', handler: () => { st.url().regexNoMatch = true; } },
    {
      name: 'regex_options', handler: (_ctx, l) => {
        for (let i = 1; i < l.words.length; i++) {
          const o = l.words[i].text;
          if (REGEX_OPTIONS.includes(o) && !st.url().regexOptions.includes(o)) st.url().regexOptions.push(o);
        }
      },
    },
    { name: 'regex_min_offset', handler: (ctx, l) => { st.url().regexMinOffset = regexOffset(ctx, l, 'min'); } },
    { name: 'regex_max_offset', handler: (ctx, l) => { st.url().regexMaxOffset = regexOffset(ctx, l, 'max') + 1; } },
    {
      name: 'regex_stack', handler: (ctx, l) => {
        if (l.words.length !== 3) ctx.sink.log(ctx.pos(l), 'regex_stack requires start and max values');
      },
    },
  ];
  return {
    name,
    handler: (ctx, l) => {
      const c = queue(st, name, ctx, l, true);
      c.defaultDelayBeforeRetryUs = 3 * TIMER_HZ;
    },
    sub: [
      ...commonCheckerKeywords(st, true),
      {
        name: 'nb_get_retry', handler: (ctx, l) => {
          err(ctx, ctx.pos(l), `nb_get_retry is deprecated - please use 'retry'`,
            `nb_get_retry is deprecated - please use 'retry'; rename it to "retry"`);
          const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, UINT_MAX);
          if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid nb_get_retry value '${l.words[1].text}'`); return; }
          st.checker().retry = v;
        },
      },
      {
        name: 'virtualhost', handler: (ctx, l) => {
          if (l.words.length < 2) { err(ctx, ctx.pos(l), 'HTTP_GET virtualhost name missing'); return; }
          st.checker().virtualhost = l.words[1].text;
        },
      },
      {
        name: 'http_protocol', handler: (ctx, l) => {
          if (l.words.length < 2) { err(ctx, ctx.pos(l), 'Missing http_protocol version'); return; }
          const v = l.words[1].text;
          if (v === '1.0') st.checker().httpProtocol = '1.0';
          else if (v === '1.1') st.checker().httpProtocol = '1.1';
          else if (v === '1.0C' || v === '1.0c') st.checker().httpProtocol = '1.0C';
          else err(ctx, ctx.pos(l, 1), `Invalid http_protocol version ${v}`);
        },
      },
      { name: 'enable_sni', handler: (ctx, l) => { const r = boolOpt(ctx, l, 'enable_sni'); if (r !== null) st.checker().enableSni = r === 1; } },
      { name: 'fast_recovery', handler: (ctx, l) => { const r = boolOpt(ctx, l, 'fast_recovery'); if (r !== null) st.checker().fastRecovery = r === 1; } },
      {
        name: 'url',
        handler: () => {
          st.checker().urls.push({ path: null, digest: null, status: new Set(), virtualhost: null, regex: null, regexNoMatch: false, regexOptions: [], regexMinOffset: 0, regexMaxOffset: 0 });
          st.regexPattern = null;
        },
        sub: urlKeywords,
        end: (ctx) => {
          // check_http.c url_check
          const c = st.checker();
          const u = st.url();
          if (u.path === null) {
            err(ctx, ctx.endPos, 'HTTP/SSL_GET checker url has no path - ignoring');
            c.urls.pop();
            return;
          }
          if (u.status.size === 0) for (let s = 200; s <= 299; s++) u.status.add(s);
          if (st.regexPattern !== null) {
            u.regex = st.regexPattern;
            st.regexPattern = null;
          } else if (u.regexOptions.length || u.regexNoMatch || u.regexMinOffset || u.regexMaxOffset) {
            ctx.sink.log(c.at, 'regex parameters specified without regex');
            u.regexOptions = [];
            u.regexNoMatch = false;
            u.regexMinOffset = 0;
            u.regexMaxOffset = 0;
          }
          if (u.regexMaxOffset && u.regexMinOffset >= u.regexMaxOffset) {
            ctx.sink.log(c.at, `regex min offset ${u.regexMinOffset} > regex_max_offset ${u.regexMaxOffset - 1} - ignoring`);
            u.regexMinOffset = u.regexMaxOffset = 0;
          }
        },
      },
    ],
    end: (ctx) => {
      // check_http.c http_get_check_end
      const c = st.checker();
      if (c.urls.length === 0) {
        err(ctx, ctx.endPos, 'HTTP/SSL_GET checker has no urls specified - ignoring');
        c.removed = true;
      }
      if (!checkConnOpts(st, ctx, c)) c.removed = true;
    },
  };
}

function regexOffset(ctx: ParseContext, l: Line, type: string): number {
  if (l.words.length !== 2) {
    ctx.sink.log(ctx.pos(l), `Missing or too may options for regex_${type}_offset`);
    return 0;
  }
  const s = l.words[1].text;
  if (!/^\s*\+?\d*$/.test(s)) {
    ctx.sink.log(ctx.pos(l, 1), `Invalid regex_${type}_offset ${s} specified`);
    return 0;
  }
  return Number(s.trim() || '0');
}

function miscCheck(st: CheckState): KeywordSpec {
  return {
    name: 'MISC_CHECK',
    handler: (ctx, l) => {
      const c = queue(st, 'MISC_CHECK', ctx, l, false);
      c.defaultRetry = 0;
    },
    sub: [
      ...commonCheckerKeywords(st, false),
      {
        name: 'misc_path', handler: (ctx, l) => {
          const c = st.checker();
          const qe = ctx.quotedEscaped(l);
          if (!qe || qe.length < 2) return;
          const args = splitQuotedEscaped(qe[1]);
          if (args.error || !args.words.length) return;
          c.script = { argv: args.words, user: null, group: null, at: ctx.pos(l, 1), type: 'misc', seq: 0, userPos: ctx.pos(l) };
        },
      },
      {
        name: 'misc_timeout', handler: (ctx, l) => {
          const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, Math.floor(UINT_MAX / TIMER_HZ));
          if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid misc_timeout value '${l.words[1].text}'`); return; }
          st.checker().miscTimeoutUs = v * TIMER_HZ;
        },
      },
      { name: 'misc_dynamic', handler: () => { st.checker().miscDynamic = true; } },
      {
        name: 'user', handler: (ctx, l) => {
          const c = st.checker();
          if (l.words.length < 2) {
            err(ctx, ctx.pos(l), `No user specified for misc checker script ${c.script ? cmdStr(c.script.argv) : '(null)'}`);
            return;
          }
          c.miscUser = { user: l.words[1].text, group: l.words[2]?.text ?? null };
          c.miscUserPos = ctx.pos(l);
        },
      },
    ],
    end: (ctx) => {
      const c = st.checker();
      if (!c.script) {
        err(ctx, ctx.endPos, 'No script path has been specified for MISC_CHECKER - skipping');
        c.removed = true;
        return;
      }
      // check_misc.c misc_end_handler asks for the default user here, at the block's closing line.
      c.script = { ...c.script, seq: ctx.nextSeq(), userPos: ctx.endPos };
      if (c.miscUser) c.script = { ...c.script, user: c.miscUser.user, group: c.miscUser.group };
    },
  };
}

function dnsCheck(st: CheckState): KeywordSpec {
  return {
    name: 'DNS_CHECK',
    handler: (ctx, l) => {
      const c = queue(st, 'DNS_CHECK', ctx, l, true);
      c.defaultRetry = 3;
      c.defaultDelayBeforeRetryUs = 0;
    },
    sub: [
      ...commonCheckerKeywords(st, true),
      {
        name: 'type', handler: (ctx, l) => {
          const s = ctx.word(l, 1);
          const t = DNS_TYPES.find(([n]) => n.toLowerCase() === s.toLowerCase());
          if (!t) err(ctx, ctx.pos(l, 1), `Unknown DNS check type ${s} - ignoring`);
          else st.checker().dnsType = t[1];
        },
      },
      {
        name: 'name', handler: (ctx, l) => {
          const c = st.checker();
          if (c.dnsName !== null) { err(ctx, ctx.pos(l), 'DNS_CHECK name already specified - ignoring'); return; }
          const name = ctx.word(l, 1);
          // check_dns.c dns_name_handler scans from the first character, so a one-letter first
          // label ("a.example") is refused too, as keepalived 2.2.7 does.
          let invalid = name[0] === '.' && name.length > 1;
          for (let p = 0; !invalid && p >= 0 && p < name.length; p = name.indexOf('.', p + 1)) if (name[p + 1] === '.') invalid = true;
          if (invalid) { err(ctx, ctx.pos(l, 1), `DNS_CHECK name '${name}' has empty label - ignoring`); return; }
          c.dnsName = name;
        },
      },
    ],
    end: (ctx) => {
      const c = st.checker();
      if (!checkConnOpts(st, ctx, c)) { c.removed = true; return; }
      if (c.dnsName === null) c.dnsName = '';
    },
  };
}

function smtpCheck(st: CheckState): KeywordSpec {
  // The deprecated `host { }` sub-blocks each become their own checker (check_smtp.c WITH_HOST_ENTRIES):
  // inside host{}, connection keywords set that host's connection, the others the shared checker.
  let hosts: ConnDraft[] = [];
  let saved: ConnDraft | null = null;
  return {
    name: 'SMTP_CHECK',
    handler: (ctx, l) => {
      const c = queue(st, 'SMTP_CHECK', ctx, l, true);
      // check_smtp.c smtp_check_handler: nothing set yet, so it can tell what was configured.
      c.co!.dst = { af: 0, addr: null, port: 0 };
      hosts = [];
    },
    sub: [
      { name: 'helo_name', handler: (ctx, l) => { st.checker().heloName = ctx.word(l, 1); } },
      ...commonCheckerKeywords(st, true),
      {
        name: 'host',
        handler: () => {
          const c = st.checker();
          saved = c.co;
          const rs = st.rs();
          c.co = { dst: { af: rs.addr.af, addr: rs.addr, port: rs.addr.port }, bindto: { af: 0, addr: null, port: 0 }, bindIf: '', connectTimeoutUs: undefined, fwmark: 0 };
        },
        sub: commonCheckerKeywords(st, true),
        end: (ctx) => {
          const c = st.checker();
          if (checkConnOpts(st, ctx, c)) hosts.push(c.co!);
          c.co = saved;
          saved = null;
        },
      },
    ],
    end: (ctx) => {
      const c = st.checker();
      const rs = st.rs();
      const vs = st.vs();
      if (c.heloName === null) c.heloName = 'smtpchecker.keepalived.org';
      if (hosts.length) ctx.sink.log(c.at, 'The SMTP_CHECK host block is deprecated. Please define additional checkers.');
      const co = c.co!;
      const coSet = co.dst.af !== 0 || co.dst.port !== 0 || co.bindto.af !== 0 || co.bindto.port !== 0 || co.bindIf !== '' || co.fwmark !== 0 || co.connectTimeoutUs !== undefined;
      if (coSet || hosts.length === 0) {
        if (co.dst.af === 0) co.dst = { af: rs.addr.af, addr: rs.addr, port: co.dst.port };
        if (!co.dst.port) co.dst.port = rs.addr.port;
        if (!checkConnOpts(st, ctx, c)) { c.removed = true; return; }
      } else {
        c.co = hosts.shift()!;
      }
      const connTo = rs.connectTimeoutUs ?? vs.connectTimeoutUs;
      if (c.co!.connectTimeoutUs === undefined) c.co!.connectTimeoutUs = connTo;
      for (const h of hosts) {
        if (h.connectTimeoutUs === undefined) h.connectTimeoutUs = connTo;
        rs.checkers.push({ ...c, co: h, urls: [] });
      }
      hosts = [];
    },
  };
}

function udpCheck(st: CheckState): KeywordSpec {
  return {
    name: 'UDP_CHECK',
    handler: (ctx, l) => { queue(st, 'UDP_CHECK', ctx, l, true); },
    sub: [
      ...commonCheckerKeywords(st, true),
      {
        name: 'payload', handler: (ctx, l) => {
          if (l.words.length === 1) { err(ctx, ctx.pos(l), 'UDP_CHECK payload requires a payload'); return; }
          const r = readHexStr(l.words.slice(1).map((w) => w.text).join(' '), false);
          if (!r) err(ctx, ctx.pos(l, 1), 'Invalid hex string for UDP_CHECK payload');
          else st.checker().payload = r.data;
        },
      },
      {
        name: 'require_reply', handler: (ctx, l) => {
          const c = st.checker();
          c.requireReply = true;
          if (l.words.length === 1) return;
          const r = readHexStr(l.words.slice(1).map((w) => w.text).join(' '), true);
          if (!r) err(ctx, ctx.pos(l, 1), 'Invalid hex string for UDP_CHECK reply');
          else { c.replyData = r.data; c.replyMask = r.mask; }
        },
      },
      {
        name: 'min_reply_length', handler: (ctx, l) => {
          const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, 65535);
          if (v === null) { err(ctx, ctx.pos(l, 1), `UDP_CHECK min length ${l.words[1].text} not valid - must be between 0 & 65535`); return; }
          st.checker().minReplyLength = v;
        },
      },
      {
        name: 'max_reply_length', handler: (ctx, l) => {
          const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, 65535);
          if (v === null) { err(ctx, ctx.pos(l, 1), `UDP_CHECK max length ${l.words[1].text} not valid - must be between 0 & 65535`); return; }
          st.checker().maxReplyLength = v;
        },
      },
    ],
    end: (ctx) => {
      const c = st.checker();
      if (!checkConnOpts(st, ctx, c)) { c.removed = true; return; }
      if (c.minReplyLength > c.maxReplyLength) {
        err(ctx, ctx.endPos, `UDP_CHECK min_reply length ${c.minReplyLength} > max_reply_length ${c.maxReplyLength} - will always fail`);
      }
    },
  };
}

function fileCheck(st: CheckState): KeywordSpec {
  return {
    name: 'FILE_CHECK',
    handler: (ctx, l) => { queue(st, 'FILE_CHECK', ctx, l, false); },
    sub: [
      {
        name: 'track_file', handler: (ctx, l) => {
          const n = ctx.word(l, 1);
          if (!st.d.trackFiles.some((t) => t.name === n)) { err(ctx, ctx.pos(l, 1), `track_file ${n} not found`); return; }
          st.checker().trackFile = n;
        },
      },
      {
        name: 'weight', handler: (ctx, l) => {
          if (l.words.length < 2) { err(ctx, ctx.pos(l), 'track file weight missing'); return; }
          const w = readInt(ctx.sink, ctx.pos(l, 1), l.words[1].text, -IPVS_WEIGHT_LIMIT, IPVS_WEIGHT_LIMIT);
          if (w === null) {
            err(ctx, ctx.pos(l, 1), `weight for track file must be in [${-IPVS_WEIGHT_LIMIT}..${IPVS_WEIGHT_LIMIT}] inclusive. Ignoring...`);
            return;
          }
          let reverse = false;
          if (l.words.length >= 3) {
            const o = l.words[2].text;
            if (o === 'reverse') reverse = true;
            else if (o !== 'noreverse') { err(ctx, ctx.pos(l, 2), `unknown track file weight option ${o} - ignoring`); return; }
          }
          st.checker().fileWeight = w;
          st.checker().fileReverse = reverse;
        },
      },
    ],
    end: (ctx) => {
      const c = st.checker();
      if (c.trackFile === null) {
        err(ctx, ctx.endPos, 'FILE_CHECK has no track_file specified - ignoring');
        c.removed = true;
        return;
      }
      if (c.fileWeight === undefined) {
        const tf = st.d.trackFiles.find((t) => t.name === c.trackFile)!;
        c.fileWeight = tf.weight;
        c.fileReverse = tf.reverse;
      }
    },
  };
}

function bfdCheck(st: CheckState): KeywordSpec {
  return {
    name: 'BFD_CHECK',
    handler: (ctx, l) => { queue(st, 'BFD_CHECK', ctx, l, false); },
    sub: [
      { name: 'name', handler: (ctx, l) => { st.checker().bfdName = ctx.word(l, 1); } },
      { name: 'alpha', handler: (ctx, l) => { const r = boolOpt(ctx, l, 'alpha'); if (r !== null) st.checker().alpha = r; } },
    ],
    end: (ctx) => {
      const c = st.checker();
      if (c.bfdName === null) {
        err(ctx, ctx.endPos, 'BFD_CHECK - no bfd name specified - ignoring');
        c.removed = true;
      }
    },
  };
}

// ---------------------------------------------------------------- real servers

function realServerKeywords(st: CheckState): KeywordSpec[] {
  const rsTimer = (name: string, minUs: number, maxUs: number, set: (rs: RsDraft, v: number) => void, msg: (s: string) => string): KeywordSpec => ({
    name, handler: (ctx, l) => {
      const v = readTimer(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), minUs, maxUs);
      if (v === null) { err(ctx, ctx.pos(l, 1), msg(l.words[1].text)); return; }
      set(st.rs(), v);
    },
  });
  const script = (name: 'notify_up' | 'notify_down'): KeywordSpec => ({
    name, handler: (ctx, l) => {
      const rs = st.rs();
      const key = name === 'notify_up' ? 'notifyUp' : 'notifyDown';
      if (rs[key]) {
        err(ctx, ctx.pos(l), `(${st.vs().vsgname ?? '(null)'}) ${name} script already specified - ignoring ${ctx.word(l, 1)}`);
        return;
      }
      rs[key] = scriptFromLine(ctx, l, 'notify');
    },
  });
  return [
    {
      name: 'weight', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, IPVS_WEIGHT_LIMIT);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Real server weight ${l.words[1].text} is outside range 0-${IPVS_WEIGHT_LIMIT}`); return; }
        st.rs().effectiveWeight = v;
        st.rs().iweight = v;
      },
    },
    { name: 'lvs_method', handler: (ctx, l) => forwarding(ctx, l, st.rs(), 'real') },
    {
      name: 'uthreshold', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, UINT_MAX);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid real_server uthreshold '${l.words[1].text}' - ignoring`); return; }
        st.rs().uThreshold = v;
      },
    },
    {
      name: 'lthreshold', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, UINT_MAX);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid real_server lthreshold '${l.words[1].text}' - ignoring`); return; }
        st.rs().lThreshold = v;
      },
    },
    { name: 'inhibit_on_failure', handler: (ctx, l) => { const r = boolOpt(ctx, l, 'inhibit_on_failure'); if (r !== null) st.rs().inhibit = r; } },
    script('notify_up'),
    script('notify_down'),
    { name: 'alpha', handler: (ctx, l) => { const r = boolOpt(ctx, l, 'alpha'); if (r !== null) st.rs().alpha = r; } },
    {
      name: 'retry', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, UINT_MAX);
        if (v === null) { err(ctx, ctx.pos(l, 1), `retry value invalid - ${l.words[1].text}`); return; }
        st.rs().retry = v;
      },
    },
    rsTimer('delay_before_retry', 0, 0, (rs, v) => { rs.delayBeforeRetryUs = v; }, (s) => `real server delay_before_retry '${s}' invalid - ignoring`),
    rsTimer('warmup', 0, 0, (rs, v) => { rs.warmupUs = v; }, (s) => `real server warmup '${s}' invalid - ignoring`),
    rsTimer('connect_timeout', 1, UINT_MAX, (rs, v) => { rs.connectTimeoutUs = v; }, (s) => `real server connect_timeout ${s} invalid - ignoring`),
    rsTimer('delay_loop', 1, 0, (rs, v) => { rs.delayLoopUs = v; }, (s) => `real server delay_loop '${s}' invalid - ignoring`),
    { name: 'smtp_alert', handler: (ctx, l) => { const r = boolOpt(ctx, l, 'real_server smtp_alert'); if (r !== null) st.rs().smtpAlert = r; } },
    {
      name: 'virtualhost', handler: (ctx, l) => {
        if (l.words.length < 2) { err(ctx, ctx.pos(l), 'real server virtualhost missing'); return; }
        st.rs().virtualhost = l.words[1].text;
      },
    },
    {
      name: 'snmp_name', handler: (ctx, l) => {
        if (l.words.length !== 2) err(ctx, ctx.pos(l), 'real server snmp_name missing or extra parameters');
      },
    },
    // Checkers in keepalived's install order (check_api.c install_checkers_keyword).
    miscCheck(st), smtpCheck(st), tcpCheck(st), pingCheck(st), udpCheck(st), httpCheck(st, 'HTTP_GET'), httpCheck(st, 'SSL_GET'),
    dnsCheck(st), fileCheck(st), bfdCheck(st),
  ];
}

// ---------------------------------------------------------------- virtual servers

function newVs(at: Pos): VsDraft {
  return {
    at, kind: 'address', af: 0, addr: null, fwmark: 0, vsgname: null, groupSeq: 0, sched: '', flags: 0, persistenceTimeout: 0,
    granularity: null, pe: '', protocol: 0, haSuspend: false, virtualhost: null, alpha: false, omega: false, quorum: 1, hysteresis: 0,
    quorumUp: null, quorumDown: null, connectTimeoutUs: 5 * TIMER_HZ, delayLoopUs: KEEPALIVED_DEFAULT_DELAY_US, warmupUs: undefined,
    retry: undefined, delayBeforeRetryUs: undefined, weight: 1, smtpAlert: -1, inhibit: false, sorry: null, sorryIsRs: false, rs: [],
    removed: false, fwd: FWD_UNSET, tunType: 0, tunPort: 0, tunFlags: 0,
  };
}

function virtualServerKeywords(st: CheckState): KeywordSpec[] {
  const vsTimer = (name: string, minUs: number, maxUs: number, set: (vs: VsDraft, v: number) => void, msg: (s: string) => string): KeywordSpec => ({
    name, handler: (ctx, l) => {
      const v = readTimer(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), minUs, maxUs);
      if (v === null) { err(ctx, ctx.pos(l, 1), msg(l.words[1].text)); return; }
      set(st.vs(), v);
    },
  });
  const flags: KeywordSpec['handler'] = (ctx, l) => {
    const vs = st.vs();
    const s = l.words[0].text;
    if (s === 'ops') vs.flags |= IP_VS_SVC_F_ONEPACKET;
    else if (s === 'flag-1') vs.flags |= IP_VS_SVC_F_SCHED1;
    else if (s === 'flag-2') vs.flags |= IP_VS_SVC_F_SCHED2;
    else if (s === 'flag-3') vs.flags |= IP_VS_SVC_F_SCHED3;
    else if (vs.sched === 'sh') {
      if (s === 'sh-port') vs.flags |= IP_VS_SVC_F_SCHED2;
      if (s === 'sh-fallback') vs.flags |= IP_VS_SVC_F_SCHED1;
    } else if (vs.sched === 'mh') {
      if (s === 'mh-port') vs.flags |= IP_VS_SVC_F_SCHED2;
      if (s === 'mh-fallback') vs.flags |= IP_VS_SVC_F_SCHED1;
    } else err(ctx, ctx.pos(l), `${s} only applies to sh scheduler - ignoring`);
  };
  const quorumScript = (name: 'quorum_up' | 'quorum_down'): KeywordSpec => ({
    name, handler: (ctx, l) => {
      const vs = st.vs();
      const key = name === 'quorum_up' ? 'quorumUp' : 'quorumDown';
      if (vs[key]) {
        err(ctx, ctx.pos(l), `(${vs.vsgname ?? '(null)'}) ${name} script already specified - ignoring ${ctx.word(l, 1)}`);
        return;
      }
      vs[key] = scriptFromLine(ctx, l, 'quorum');
    },
  });
  return [
    {
      name: 'ip_family', handler: (ctx, l) => {
        const vs = st.vs();
        const s = ctx.word(l, 1);
        let af: 2 | 10;
        if (s === 'inet') af = 2;
        else if (s === 'inet6') af = 10;
        else { err(ctx, ctx.pos(l, 1), `unknown address family ${s}`); return; }
        if (vs.af !== 0 && af !== vs.af) { err(ctx, ctx.pos(l, 1), `Virtual server specified family ${s} conflicts with server family`); return; }
        vs.af = af;
      },
    },
    {
      name: 'retry', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, UINT_MAX);
        if (v === null) { err(ctx, ctx.pos(l, 1), `retry value invalid - ${l.words[1].text}`); return; }
        st.vs().retry = v;
      },
    },
    vsTimer('delay_before_retry', 0, 0, (vs, v) => { vs.delayBeforeRetryUs = v; }, (s) => `virtual server delay before retry '${s}' invalid - ignoring`),
    vsTimer('warmup', 0, 0, (vs, v) => { vs.warmupUs = v; }, (s) => `virtual server warmup '${s}' invalid - ignoring`),
    vsTimer('connect_timeout', 1, UINT_MAX, (vs, v) => { vs.connectTimeoutUs = v; }, (s) => `virtual server connect_timeout ${s} invalid - ignoring`),
    vsTimer('delay_loop', 1, 0, (vs, v) => { vs.delayLoopUs = v; }, (s) => `virtual server delay loop '${s}' invalid - ignoring`),
    { name: 'inhibit_on_failure', handler: () => { st.vs().inhibit = true; } },
    ...['lb_algo', 'lvs_sched'].map((name): KeywordSpec => ({
      name, handler: (ctx, l) => {
        const s = ctx.word(l, 1);
        if (!(LVS_SCHEDULERS as readonly string[]).includes(s)) {
          err(ctx, ctx.pos(l, 1), `Invalid lvs_scheduler '${s}' - ignoring`,
            `Invalid lvs_scheduler '${s}' - ignoring; use one of ${LVS_SCHEDULERS.join(', ')}`);
          return;
        }
        st.vs().sched = s;
      },
    })),
    ...['hashed', 'ops', 'flag-1', 'flag-2', 'flag-3', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback'].map((name): KeywordSpec => ({ name, handler: flags })),
    ...['lb_kind', 'lvs_method'].map((name): KeywordSpec => ({ name, handler: (ctx, l) => forwarding(ctx, l, st.vs(), 'virtual') })),
    {
      name: 'persistence_engine', handler: (ctx, l) => {
        const s = ctx.word(l, 1);
        if (s.length > 15) err(ctx, ctx.pos(l, 1), `persistence_name too long, truncating - ${s}`);
        st.vs().pe = s.slice(0, 15);
      },
    },
    {
      name: 'persistence_timeout', handler: (ctx, l) => {
        const vs = st.vs();
        if (l.words.length < 2) { vs.persistenceTimeout = IPVS_SVC_PERSISTENT_TIMEOUT; return; }
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), l.words[1].text, 1, LVS_MAX_TIMEOUT);
        if (v === null) { err(ctx, ctx.pos(l, 1), 'persistence_timeout invalid'); return; }
        vs.persistenceTimeout = v;
      },
    },
    {
      name: 'persistence_granularity', handler: (ctx, l) => {
        const vs = st.vs();
        const s = ctx.word(l, 1);
        let af = vs.af;
        if (af === 0) af = s.includes('.') ? 2 : 10;
        if (af === 10) {
          const v = readUnsigned(ctx.sink, ctx.pos(l, 1), s, 1, 128);
          if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid IPv6 persistence_granularity specified - ${s}`); return; }
          vs.granularity = v;
        } else {
          // getaddrinfo(AI_NUMERICHOST, AF_INET) accepts inet_aton forms too; the mask need not be contiguous.
          const v = inetAtonLoose(s);
          if (v === null) { err(ctx, ctx.pos(l, 1), `Invalid IPv4 persistence_granularity specified - ${s}`); return; }
          vs.granularity = v;
        }
        if (vs.af === 0) vs.af = af;
        if (!vs.persistenceTimeout) vs.persistenceTimeout = IPVS_SVC_PERSISTENT_TIMEOUT;
      },
    },
    {
      name: 'protocol', handler: (ctx, l) => {
        const s = ctx.word(l, 1).toUpperCase();
        if (s === 'TCP') st.vs().protocol = 6;
        else if (s === 'SCTP') st.vs().protocol = 132;
        else if (s === 'UDP') st.vs().protocol = 17;
        else err(ctx, ctx.pos(l, 1), `Unknown protocol ${l.words[1].text} - ignoring`);
      },
    },
    { name: 'ha_suspend', handler: () => { st.vs().haSuspend = true; } },
    { name: 'smtp_alert', handler: (ctx, l) => { const r = boolOpt(ctx, l, 'virtual_server smtp_alert'); if (r !== null) st.vs().smtpAlert = r; } },
    {
      name: 'virtualhost', handler: (ctx, l) => {
        if (l.words.length < 2) { err(ctx, ctx.pos(l), 'virtual server virtualhost missing'); return; }
        st.vs().virtualhost = l.words[1].text;
      },
    },
    {
      name: 'snmp_name', handler: (ctx, l) => {
        if (l.words.length !== 2) err(ctx, ctx.pos(l), 'virtual server snmp_name missing or extra parameters');
      },
    },
    { name: 'alpha', handler: () => { st.vs().alpha = true; } },
    { name: 'omega', handler: () => { st.vs().omega = true; } },
    quorumScript('quorum_up'),
    quorumScript('quorum_down'),
    {
      name: 'quorum', handler: (ctx, l) => {
        let v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, UINT_MAX);
        if (v === null) {
          err(ctx, ctx.pos(l, 1), `Quorum ${l.words[1].text} must be in [1, ${UINT_MAX}]. Setting to 1.`);
          v = 1;
        }
        st.vs().quorum = v;
      },
    },
    {
      name: 'hysteresis', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 0, UINT_MAX);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Hysteresis ${l.words[1].text} must be in [0, ${UINT_MAX}] - ignoring`); return; }
        st.vs().hysteresis = v;
      },
    },
    {
      name: 'weight', handler: (ctx, l) => {
        const v = readUnsigned(ctx.sink, ctx.pos(l, 1), ctx.word(l, 1), 1, IPVS_WEIGHT_LIMIT);
        if (v === null) { err(ctx, ctx.pos(l, 1), `Virtual server weight ${l.words[1].text} is outside range 1-${IPVS_WEIGHT_LIMIT}`); return; }
        st.vs().weight = v;
      },
    },
    {
      name: 'sorry_server', handler: (ctx, l) => {
        const vs = st.vs();
        const ip = ctx.word(l, 1);
        const a = stoSockaddr(ctx.sink, ctx.pos(l, 1), ip, portOrNull(l.words[2]?.text));
        if (!a) { err(ctx, ctx.pos(l, 1), `Invalid sorry server IP address ${ip} - skipping`); return; }
        vs.sorry = { addr: a, inhibit: false, at: ctx.pos(l), fwd: vs.fwd, tunType: vs.tunType, tunPort: vs.tunPort, tunFlags: vs.tunFlags };
      },
    },
    {
      name: 'sorry_server_inhibit', handler: (ctx, l) => {
        const vs = st.vs();
        if (vs.sorry) vs.sorry.inhibit = true;
        else err(ctx, ctx.pos(l), 'Ignoring sorry_server inhibit used before or without sorry_server');
      },
    },
    {
      name: 'sorry_server_lvs_method', handler: (ctx, l) => {
        const vs = st.vs();
        if (vs.sorry) forwarding(ctx, l, vs.sorry, 'sorry');
        else err(ctx, ctx.pos(l), 'sorry_server forwarding used without sorry_server');
      },
    },
    {
      name: 'real_server',
      handler: (ctx, l) => {
        const vs = st.vs();
        const ip = ctx.word(l, 1);
        const port = l.words[2]?.text;
        const a = stoSockaddr(ctx.sink, ctx.pos(l, 1), ip, portOrNull(port));
        if (!a) {
          err(ctx, ctx.pos(l, 1), `Invalid real server ip address/port ${ip}/${port ?? '(null)'} - skipping`);
          ctx.skipBlock(true);
          return;
        }
        vs.rs.push({
          at: ctx.pos(l), addr: a, effectiveWeight: undefined, iweight: 0, uThreshold: 0, lThreshold: 0, alpha: -1, inhibit: -1,
          notifyUp: null, notifyDown: null, connectTimeoutUs: undefined, delayLoopUs: undefined, warmupUs: undefined, retry: undefined,
          delayBeforeRetryUs: undefined, virtualhost: null, smtpAlert: -1, checkers: [], removed: false,
          fwd: vs.fwd, tunType: vs.tunType, tunPort: vs.tunPort, tunFlags: vs.tunFlags,
        });
      },
      sub: realServerKeywords(st),
      end: (ctx) => {
        // check_parser.c rs_end_handler
        const vs = st.vs();
        const rs = st.rs();
        if (rs.fwd !== FWD_TUNNEL) {
          if (vs.af === 0) vs.af = rs.addr.af;
          else if (vs.af !== rs.addr.af) {
            err(ctx, ctx.endPos, `Address family of virtual server and real server ${rs.addr.addr} don't match - skipping real server.`);
            vs.rs.pop();
          }
        }
      },
    },
  ];
}

/** getaddrinfo(AI_NUMERICHOST) for AF_INET: inet_aton forms (1-4 parts, octal/hex). Host order u32. */
function inetAtonLoose(s: string): number | null {
  const strict = inetPton4(s);
  if (strict !== null) return strict;
  const parts = s.split('.');
  if (parts.length === 0 || parts.length > 4) return null;
  const vals: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0[xX][0-9a-fA-F]+$/.test(p)) v = parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) v = parseInt(p, 8) || 0;
    else if (/^[1-9][0-9]*$/.test(p)) v = Number(p);
    else return null;
    vals.push(v);
  }
  const n = vals.length;
  for (let i = 0; i < n - 1; i++) if (vals[i] > 255) return null;
  const lastMax = [0xffffffff, 0xffffff, 0xffff, 0xff][n - 1];
  if (vals[n - 1] > lastMax) return null;
  let v = 0;
  for (let i = 0; i < n - 1; i++) v = v * 256 + vals[i];
  return (v * 2 ** (8 * (5 - n)) + vals[n - 1]) >>> 0;
}

// ---------------------------------------------------------------- virtual_server_group

function vsgEntry(st: CheckState, ctx: ParseContext, vsg: VsgDraft, l: Line): void {
  // keepalived/check/check_data.c alloc_vsg_entry
  const w = l.words.map((x) => x.text);
  const pos = ctx.pos(l);
  const addrStr = w[0];
  if (addrStr === 'fwmark') {
    const fw = readUnsigned(ctx.sink, ctx.pos(l, 1), w[1] ?? ctx.word(l, 1), 0, UINT_MAX);
    if (fw === null) { err(ctx, ctx.pos(l, 1), `(${vsg.name}): fwmark '${w[1]}' must be in [0, ${UINT_MAX}] - ignoring`); return; }
    let af: 0 | 2 | 10 = 0;
    if (w.length > 2) {
      if (w[2] === 'inet') { af = 2; vsg.haveV4 = true; }
      else if (w[2] === 'inet6') { af = 10; vsg.haveV6 = true; }
      else { err(ctx, ctx.pos(l, 2), `(${vsg.name}): fwmark '${fw}' family ${w[2]} unknown - ignoring`); return; }
    } else vsg.fwmarkNoFamily = true;
    vsg.entries.push({ kind: 'fwmark', af, first: null, last: null, port: 0, fwmark: fw, at: pos });
    return;
  }
  const portStr = w.length >= 2 && !/^0*$/.test(w[1]) ? w[1] : null;
  const first = stoSockaddr(ctx.sink, ctx.pos(l, 1), addrStr, portStr);
  if (!first) {
    err(ctx, pos, `Invalid virtual server group IP address ${addrStr} ${portStr ? '/port' : ''}${portStr ? '/' : ''}${portStr ?? ''} - skipping`);
    return;
  }
  let last: SockAddr = first;
  const slash = addrStr.indexOf('/');
  if (slash >= 0) {
    const ms = addrStr.slice(slash + 1);
    const mask = /^\d+$/.test(ms) ? Number(ms) : NaN;
    if (!Number.isFinite(mask) || !mask || (first.af === 2 && mask > 32) || (first.af === 10 && mask > 128)) {
      err(ctx, pos, `Invalid netmask - ${addrStr} - skipping`);
      return;
    }
    const bits = first.af === 2 ? 32 : 128;
    const bytes = Uint8Array.from(first.bytes);
    let bad = false;
    // keepalived only checks/extends within the last 16 bits for IPv6 beyond the mask's word; emulate bitwise.
    for (let b = mask; b < bits; b++) {
      const byte = b >> 3;
      const bit = 0x80 >> (b & 7);
      if (first.bytes[byte] & bit) bad = true;
      bytes[byte] |= bit;
    }
    if (bad) { err(ctx, pos, `Address mask bits not empty - ${addrStr} - skipping`); return; }
    last = { ...first, bytes, addr: first.af === 2 ? `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}` : ntop6Bytes(bytes) };
  } else {
    const dash = addrStr.indexOf('-');
    const endStr = dash >= 0 ? addrStr.slice(dash + 1) : '';
    if (dash >= 0 && ((first.af === 2 && endStr.includes('.')) || (first.af === 10 && endStr.includes(':')))) {
      const end = stoSockaddr(ctx.sink, pos, endStr, portStr);
      if (!end) { err(ctx, pos, `Invalid range end ${addrStr} - skipping`); return; }
      if (end.af !== first.af) { err(ctx, pos, `Range address families do not match ${addrStr} - skipping`); return; }
      if (compareBytes(first.bytes, end.bytes) > 0) {
        err(ctx, pos, `Address range end is less than address range start - ${addrStr} - skipping`);
        return;
      }
      last = end;
    } else if (dash >= 0) {
      // lib/utils.c inet_stor: the last octet (IPv4, decimal) or last 16-bit group (IPv6, hex).
      const m = first.af === 10 ? /^([0-9a-fA-F]*)(.*)$/s.exec(endStr)! : /^(\d*)(.*)$/s.exec(endStr)!;
      const range = m[1] === '' ? 0 : parseInt(m[1], first.af === 10 ? 16 : 10);
      if (m[2] !== '') {
        ctx.sink.report(CONFIG_INVALID_NUMBER, pos, `Virtual server group range '${addrStr}' has extra characters at end '${m[2]}'`);
        return;
      }
      if ((first.af === 10 && range > 0xffff) || (first.af === 2 && range > 255)) {
        ctx.sink.report(CONFIG_INVALID_NUMBER, pos, `Virtual server group range '${addrStr}' end '${endStr}' too large`);
        return;
      }
      const bytes = Uint8Array.from(first.bytes);
      let start: number;
      if (first.af === 2) { start = bytes[3]; bytes[3] = range; } else { start = (bytes[14] << 8) | bytes[15]; bytes[14] = range >> 8; bytes[15] = range & 255; }
      if (start >= range) {
        err(ctx, pos, `Address range end is not greater than address range start - ${addrStr} - skipping`);
        return;
      }
      last = { ...first, bytes, addr: first.af === 2 ? `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}` : ntop6Bytes(bytes) };
    }
  }
  vsg.entries.push({ kind: 'range', af: first.af, first, last, port: first.port, fwmark: 0, at: pos });
  if (first.af === 2) vsg.haveV4 = true;
  else vsg.haveV6 = true;
  void st;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}


// ---------------------------------------------------------------- roots

export function checkRootKeywords(st: CheckState): KeywordSpec[] {
  const sslFile = (name: string, key: 'password' | 'ca' | 'certificate' | 'key', type: string): KeywordSpec => ({
    name, handler: (ctx, l) => {
      const ssl = st.d.ssl!;
      if (l.words.length < 2) { err(ctx, ctx.pos(l), `SSL ${type} missing`); return; }
      if (ssl[key] !== null) err(ctx, ctx.pos(l), `SSL ${type} already specified - replacing`);
      ssl[key] = l.words[1].text;
    },
  });
  return [
    {
      name: 'SSL',
      handler: (ctx, l) => {
        if (st.d.ssl) err(ctx, ctx.pos(l), 'SSL context already specified - replacing');
        st.d.ssl = { password: null, ca: null, certificate: null, key: null };
      },
      sub: [sslFile('password', 'password', 'password'), sslFile('ca', 'ca', 'cafile'), sslFile('certificate', 'certificate', 'certfile'),
        sslFile('key', 'key', 'keyfile')],
    },
    {
      name: 'virtual_server_group',
      handler: (ctx, l) => {
        const name = ctx.word(l, 1);
        const vsg: VsgDraft = { name, at: ctx.pos(l), entries: [], haveV4: false, haveV6: false, fwmarkNoFamily: false };
        st.d.vsg.push(vsg);
        for (const entry of ctx.readValueBlock(l, 2, '(null)')) vsgEntry(st, ctx, vsg, entry);
        if (vsg.entries.length === 0) {
          err(ctx, ctx.endPos, `virtual server group ${name} has no entries - removing`);
          st.d.vsg.pop();
        } else if (vsg.haveV4 && vsg.haveV6 && vsg.fwmarkNoFamily) {
          err(ctx, ctx.endPos, `virtual server group ${name} cannot have IPv4, IPv6 and fwmark without family - removing`);
          st.d.vsg.pop();
        }
      },
    },
    {
      name: 'virtual_server',
      handler: (ctx, l) => {
        const p1 = ctx.word(l, 1);
        const p2 = l.words[2]?.text;
        const vs = newVs(ctx.pos(l));
        if (p1 === 'group') {
          vs.kind = 'group';
          vs.vsgname = p2 ?? ctx.word(l, 2);
        } else if (p1 === 'fwmark') {
          const fw = readUnsigned(ctx.sink, ctx.pos(l, 2), p2 ?? ctx.word(l, 2), 0, IPVS_FWMARK_MAX);
          if (fw === null) {
            err(ctx, ctx.pos(l, 2), `virtual server fwmark '${p2}' must be in [0, ${IPVS_FWMARK_MAX}] - ignoring`);
            ctx.skipBlock(true);
            return;
          }
          vs.kind = 'fwmark';
          vs.fwmark = fw;
        } else {
          const portStr = portOrNull(p2);
          const a = stoSockaddr(ctx.sink, ctx.pos(l, 1), p1, portStr);
          if (!a) {
            err(ctx, ctx.pos(l, 1), `Invalid virtual server IP address${portStr ? '/port' : ''} ${p1}${portStr ? '/' : ''}${portStr ?? ''} - skipping`);
            ctx.skipBlock(true);
            return;
          }
          vs.addr = a;
          vs.af = a.af;
        }
        st.d.vs.push(vs);
      },
      sub: virtualServerKeywords(st),
      end: (ctx) => {
        // check_parser.c vs_end_handler
        const vs = st.vs();
        if (vs.sorry && vs.sorry.fwd !== FWD_TUNNEL) {
          if (vs.af === 0) vs.af = vs.sorry.addr.af;
          else if (vs.af !== vs.sorry.addr.af) {
            err(ctx, ctx.endPos, `Address family of virtual server and sorry server ${vs.sorry.addr.addr} don't match - skipping sorry server.`);
            vs.sorry = null;
          }
        }
        if (vs.af === 0 && vs.vsgname === null) {
          let mixed = false;
          let af: 0 | 2 | 10 = vs.sorry ? vs.sorry.addr.af : 0;
          for (const rs of vs.rs) {
            if (af === 0) af = rs.addr.af;
            else if (af !== rs.addr.af) { mixed = true; break; }
          }
          vs.af = mixed || af === 0 ? 2 : af;
        }
      },
    },
    {
      name: 'track_file',
      handler: (ctx, l) => {
        st.currentTrackFile = { name: ctx.word(l, 1), path: null, weight: 1, reverse: false, at: ctx.pos(l) };
      },
      sub: trackFileKeywords(st),
      end: (ctx) => trackFileEnd(st, ctx),
    },
    {
      name: 'vrrp_track_file',
      handler: (ctx, l) => {
        ctx.sink.log(ctx.pos(l), '"vrrp_track_file" is deprecated, please use "track_file"');
        st.currentTrackFile = { name: ctx.word(l, 1), path: null, weight: 1, reverse: false, at: ctx.pos(l) };
      },
      sub: trackFileKeywords(st),
      end: (ctx) => trackFileEnd(st, ctx),
    },
  ];
}

function trackFileKeywords(st: CheckState): KeywordSpec[] {
  return [
    {
      name: 'file', handler: (ctx, l) => {
        const tf = st.currentTrackFile;
        if (l.words.length < 2) { err(ctx, ctx.pos(l), 'track file file name missing'); return; }
        if (!tf) return;
        if (tf.path !== null) { err(ctx, ctx.pos(l, 1), `File already set for track file ${tf.name} - ignoring ${l.words[1].text}`); return; }
        tf.path = l.words[1].text;
      },
    },
    {
      name: 'weight', handler: (ctx, l) => {
        const tf = st.currentTrackFile;
        if (!tf) return;
        if (l.words.length < 2) { err(ctx, ctx.pos(l), `No weight specified for track file ${tf.name} - ignoring`); return; }
        if (tf.weight !== 1) { err(ctx, ctx.pos(l, 1), `Weight already set for track file ${tf.name} - ignoring ${l.words[1].text}`); return; }
        let w = readInt(ctx.sink, ctx.pos(l, 1), l.words[1].text, -254, 254);
        if (w === null) {
          err(ctx, ctx.pos(l, 1), `Weight (${l.words[1].text}) for track_file ${tf.name} must be between [-254..254] inclusive. Ignoring...`);
          w = 1;
        }
        tf.weight = w;
        if (l.words.length >= 3) {
          if (l.words[2].text === 'reverse') tf.reverse = true;
          else err(ctx, ctx.pos(l, 2), `track_file ${tf.name} unknown weight option ${l.words[2].text}`);
        }
      },
    },
    {
      name: 'init_file', handler: (ctx, l) => {
        const tf = st.currentTrackFile;
        if (!tf) return;
        for (let i = 1; i < l.words.length; i++) {
          const wd = l.words[i].text.trim();
          if (/^[0-9-]/.test(wd)) {
            const v = readInt(ctx.sink, ctx.pos(l, i), l.words[i].text, INT_MIN_, INT_MAX_);
            if (v === null) err(ctx, ctx.pos(l, i), `Track file ${tf.name} init value ${wd} is invalid`);
            else if (v < -254 || v > 254) err(ctx, ctx.pos(l, i), `Track file ${tf.name} init value ${v} is outside sensible range [-254, 254]`);
          } else if (wd !== 'overwrite') err(ctx, ctx.pos(l, i), `Unknown track file init option ${wd}`);
        }
      },
    },
  ];
}

const INT_MIN_ = -2147483648;
const INT_MAX_ = 2147483647;

function trackFileEnd(st: CheckState, ctx: ParseContext): void {
  const tf = st.currentTrackFile;
  if (!tf) return;
  st.currentTrackFile = null;
  if (tf.path === null) {
    err(ctx, ctx.endPos, `No file set for track_file ${tf.name} - ignoring`);
    return;
  }
  // Read by both the checker and the VRRP pass: keep one.
  if (!st.d.trackFiles.some((t) => t.name === tf.name && t.at.line === tf.at.line && t.at.file === tf.at.file)) st.d.trackFiles.push(tf);
}

export { formatVs };
