#!/usr/bin/env node
// The tslvs command: the daemon (`tslvs run`) and its control subcommands. Built by `tsc -p .`.
import '../dist/src/cli/tslvs/main.js';
