#!/usr/bin/env node
import { main } from '../dist/src/cli/tslvsadm/main.js';

await main();
