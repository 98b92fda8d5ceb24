// PLACEHOLDER: replaced by the real ip_vs_sh.c port.
import { STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const sh: Scheduler = {
  name: 'sh',
  ...STATELESS_HOOKS,
  schedule() {
    throw new Error('sh: not implemented yet');
  },
};
