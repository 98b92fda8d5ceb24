/**
 * An intrusive circular doubly-linked list with a sentinel head, as include/linux/list.h.
 * The destination list of a service is one: schedulers walk it from the head (newest first,
 * list_add_rcu) and rr/wrr keep a cursor that may point at the head itself.
 */
export interface ListNode {
  next: ListNode;
  prev: ListNode;
}

export class ListHead implements ListNode {
  next: ListNode;
  prev: ListNode;
  constructor() {
    this.next = this;
    this.prev = this;
  }
  isEmpty(): boolean {
    return this.next === this;
  }
}

/** list_add: insert `n` right after `head` (at the front). */
export function listAdd(n: ListNode, head: ListNode): void {
  const first = head.next;
  n.next = first;
  n.prev = head;
  first.prev = n;
  head.next = n;
}

/** list_add_tail: insert `n` right before `head` (at the back). */
export function listAddTail(n: ListNode, head: ListNode): void {
  const last = head.prev;
  n.next = head;
  n.prev = last;
  last.next = n;
  head.prev = n;
}

/**
 * list_del_rcu: unlink `n` but keep n.next valid (n.prev is left stale), so a cursor that
 * still points at `n` can continue to its old successor, as ip_vs_rr_del_dest relies on.
 */
export function listDel(n: ListNode): void {
  n.prev.next = n.next;
  n.next.prev = n.prev;
}
