// The function key: from the URL fragment or asked once, kept for the tab (sessionStorage), never in the
// address bar after it has been read.

const SLOT = "jobclusters.functionKey";

export function keyStore(storage) {
  return {
    get: () => storage.getItem(SLOT) || null,
    set: (key) => (key ? storage.setItem(SLOT, key) : storage.removeItem(SLOT)),
    forget: () => storage.removeItem(SLOT),
  };
}
