/**
 * Request tensors are views on shared slabs: allocating a small typed array costs about 2 µs here
 * (a fresh zeroed ArrayBuffer each time), a view on a slab about 30 ns. A slab is never reused —
 * when it is full a new one starts, and the old one is freed once its last view is — so views
 * stay valid and start zeroed. Views are never transferred to a worker (that would detach the
 * whole slab): the batcher copies them into the batch tensor it sends.
 */
import { DATATYPES, type Datatype, type TensorValues } from './datatypes.js';

const SLAB_BYTES = 1 << 20;
/** Larger tensors get their own buffer; a slab would hold too few of them to be worth it. */
const LARGEST_VIEW = SLAB_BYTES / 8;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

export function allocateTensor(datatype: Datatype, length: number): TensorValues {
  const info = DATATYPES[datatype];
  const bytes = (length * info.bytes + 7) & ~7;
  if (bytes > LARGEST_VIEW) return info.create(length);
  if (used + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const view = info.view(slab, used, length);
  used += bytes;
  return view;
}
