/**
 * Serialises admin operations in this process, so two deploys never race (Triton's server#7018
 * loaded a model twice that way). Redis mode puts a lock with a fencing token behind the same call
 * (src/redis/lock.ts), so admin operations are serialised across replicas too.
 */
export interface AdminLocking {
  run<T>(work: () => Promise<T>): Promise<T>;
}

export class AdminLock implements AdminLocking {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
