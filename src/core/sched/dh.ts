// PLACEHOLDER: replaced by the real ip_vs_dh.c port.
import { STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const dh: Scheduler = {
  name: 'dh',
  ...STATELESS_HOOKS,
  schedule() {
    throw new Error('dh: not implemented yet');
  },
};
