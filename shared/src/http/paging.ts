/** The URL of the page after this one, or null on the last page. */
export function nextPage(url: string, offset: number, size: number, total: number): string | null {
  if (offset + size >= total) return null;
  const [path = "", query = ""] = url.split("?");
  const params = new URLSearchParams(query);
  params.set("offset", String(offset + size));
  params.set("size", String(size));
  return `${path}?${params.toString()}`;
}

/** A list answer, `{total, items, next}`, for the page `query` asked for at `url`. */
export function pageBody<T, J>(
  url: string,
  query: { readonly offset: number; readonly size: number },
  page: { readonly total: number; readonly items: readonly T[] },
  toJson: (item: T) => J,
): { total: number; items: J[]; next: string | null } {
  return {
    total: page.total,
    items: page.items.map(toJson),
    next: nextPage(url, query.offset, query.size, page.total),
  };
}
