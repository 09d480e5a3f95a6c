/*
 * The RxJS the accounting uses, from RxJS's own exported entry points (`rxjs/internal/*` in the
 * pinned 7.8.2's package.json `exports`). The package index loads all ~220 of its modules (every
 * operator, ajax, fetch, websockets): ~0.1 s of CPU at the start of every one-off run, for the
 * three classes and one operator used here. Types still come from the index (no code loads).
 */
export { Observable } from 'rxjs/internal/Observable';
export { Subject } from 'rxjs/internal/Subject';
export { filter } from 'rxjs/internal/operators/filter';
export type { OperatorFunction } from 'rxjs';
