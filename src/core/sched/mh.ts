// PLACEHOLDER: replaced by the real ip_vs_mh.c port.
import { STATELESS_HOOKS, type Scheduler } from './scheduler.js';

export const mh: Scheduler = {
  name: 'mh',
  ...STATELESS_HOOKS,
  schedule() {
    throw new Error('mh: not implemented yet');
  },
};
