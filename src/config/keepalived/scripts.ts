/**
 * Script users and script security, as lib/notify.c get_default_script_user,
 * set_default_script_user, set_uid_gid and the check_*_script_security passes do them.
 * Owns the one-shot default script user: keepalived decides it at the first script that needs
 * it and never again, so the first failure is the only one reported.
 */
import { CONFIG_GENERAL_ERROR, CONFIG_SECURITY_ERROR, type DiagnosticSink, type Pos } from './diagnostics.js';
import type { ScriptDraft } from './model.js';
import { type HostFacts, SC_EXECUTABLE, SC_INHIBIT, SC_INSECURE, SC_ISSCRIPT, SC_NOTFOUND, SC_SYSTEM, scriptSecurity } from './system.js';
import type { Script } from './types.js';

/** lib/notify.c cmd_str: each argument in single quotes (not a first one starting with < or >). */
export function cmdStr(argv: readonly string[]): string {
  return argv.map((a, i) => (i || (a[0] !== '<' && a[0] !== '>') ? `'${a}'` : a)).join(' ');
}

/** keepalived runs as root, so a script without a user runs as root unless keepalived_script exists. */
const OUR_UID = 0;
const OUR_GID = 0;

export class ScriptUsers {
  readonly #host: HostFacts;
  readonly #sink: DiagnosticSink;
  #set = false;
  #fail = false;
  #uid = OUR_UID;
  #gid = OUR_GID;
  #name = 'root';

  constructor(host: HostFacts, sink: DiagnosticSink) {
    this.#host = host;
    this.#sink = sink;
  }

  /** lib/notify.c set_uid_gid: null when the user or group does not exist (logged). */
  lookup(user: string, group: string | null, pos: Pos): { uid: number; gid: number } | null {
    const u = this.#host.user(user);
    if (!u) {
      this.#sink.log(pos, `Script user '${user}' does not exist`);
      return null;
    }
    let gid = u.gid;
    if (group !== null) {
      const g = this.#host.group(group);
      if (g === null) {
        this.#sink.log(pos, `Script group '${group}' does not exist`);
        return null;
      }
      gid = g;
    }
    return { uid: u.uid, gid };
  }

  /** global_defs script_user (set_default_script_user). Returns false when it failed. */
  setDefault(user: string, group: string | null, pos: Pos): boolean {
    this.#set = true;
    const r = this.lookup(user, group, pos);
    if (!r) {
      this.#fail = true;
      return false;
    }
    this.#uid = r.uid;
    this.#gid = r.gid;
    this.#name = user;
    return true;
  }

  /** get_default_script_user: keepalived_script if it exists, else root; null on failure. */
  getDefault(securityOn: boolean, pos: Pos): { uid: number; gid: number; name: string } | null {
    if (this.#fail) return null;
    if (!this.#set) {
      this.#set = true;
      const u = this.#host.user('keepalived_script');
      if (u) {
        this.#uid = u.uid;
        this.#gid = u.gid;
        this.#name = 'keepalived_script';
      } else {
        this.#sink.log(pos, `Script user 'keepalived_script' does not exist`);
        if (securityOn) {
          this.#sink.report(CONFIG_GENERAL_ERROR, pos, 'Unable to set default user keepalived_script for script',
            'Unable to set default user keepalived_script for script; create the user or set "script_user" in global_defs');
          this.#fail = true;
          return null;
        }
      }
    }
    return { uid: this.#uid, gid: this.#gid, name: this.#name };
  }

  /**
   * A notify-style script: explicit user, or the default one. Null when keepalived would drop
   * it ("Invalid user/group ..." or "Failed to set default user ...", both only logged).
   */
  resolve(d: ScriptDraft | null, securityOn: boolean): Script | null {
    if (!d) return null;
    if (d.user !== null) {
      const r = this.lookup(d.user, d.group, d.at);
      if (!r) {
        this.#sink.log(d.at, `Invalid user/group for ${d.type} script ${d.argv[0]} - ignoring`);
        return null;
      }
      return Object.freeze({ argv: Object.freeze([...d.argv]), user: d.user, uid: r.uid, gid: r.gid, at: d.at });
    }
    const def = this.getDefault(securityOn, d.at);
    if (!def) {
      this.#sink.log(d.at, `Failed to set default user for ${d.type} script ${d.argv[0]} - ignoring`);
      return null;
    }
    return Object.freeze({ argv: Object.freeze([...d.argv]), user: def.name, uid: def.uid, gid: def.gid, at: d.at });
  }
}

/**
 * One pass of script security (check_data.c check_check_script_security and its vrrp twin):
 * scripts that cannot run are dropped (returned false); if any script exists and
 * enable_script_security is off, one SECURITY VIOLATION is reported with `text`.
 */
export class SecurityPass {
  flags = 0;
  constructor(private readonly host: HostFacts, private readonly sink: DiagnosticSink, private readonly securityOn: boolean) {}

  /** check_notify_script_secure: true when the script stays. */
  notify(s: Script | null): boolean {
    if (!s) return false;
    const r = scriptSecurity(this.host, s.argv[0], s.uid, s.gid, this.securityOn);
    this.#logWhy(s, r.flags);
    this.flags |= r.flags;
    return !((r.flags & (SC_INHIBIT | SC_NOTFOUND)) || !(r.flags & SC_EXECUTABLE));
  }

  /** check_misc_script_security: true when the MISC_CHECK stays. */
  misc(s: Script): boolean {
    const r = scriptSecurity(this.host, s.argv[0], s.uid, s.gid, this.securityOn);
    this.flags |= r.flags;
    if (r.flags & SC_INHIBIT) {
      this.sink.log(s.at, `Disabling misc script ${cmdStr(s.argv)} due to insecure`);
      return false;
    }
    if (r.flags & SC_NOTFOUND) {
      this.sink.log(s.at, `Disabling misc script ${cmdStr(s.argv)} since not found/accessible`);
      return false;
    }
    if (!(r.flags & (SC_EXECUTABLE | SC_SYSTEM))) {
      this.sink.log(s.at, `WARNING - script '${s.argv[0]}' is not executable for uid:gid ${s.uid}:${s.gid} - disabling.`);
      return false;
    }
    return true;
  }

  #logWhy(s: Script, flags: number): void {
    if (flags & SC_NOTFOUND) this.sink.log(s.at, `Cannot find script ${s.argv[0]} in path - disabling`);
    else if ((flags & SC_ISSCRIPT) && !(flags & SC_EXECUTABLE)) {
      this.sink.log(s.at, `WARNING - script '${s.argv[0]}' is not executable for uid:gid ${s.uid}:${s.gid} - disabling.`);
    }
  }

  /** Report the violation once, as keepalived does at the end of its pass. */
  finish(pos: Pos, text: string): void {
    if (!this.securityOn && (this.flags & SC_ISSCRIPT)) {
      const full = `${text}${this.flags & SC_INSECURE ? ' There are insecure scripts.' : ''}`;
      this.sink.report(CONFIG_SECURITY_ERROR, pos, full, `${full}; add "enable_script_security" to global_defs and give scripts a non-root "script_user"`);
    }
  }
}
