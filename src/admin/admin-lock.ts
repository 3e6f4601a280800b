/**
 * Serialises admin operations in this process, so two deploys never race (Triton's server#7018
 * loaded a model twice that way). Redis mode will put a lock with a fencing token behind the same call.
 */
export class AdminLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
