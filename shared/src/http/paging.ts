/** The URL of the page after this one, or null on the last page. */
export function nextPage(url: string, offset: number, size: number, total: number): string | null {
  if (offset + size >= total) return null;
  const [path = "", query = ""] = url.split("?");
  const params = new URLSearchParams(query);
  params.set("offset", String(offset + size));
  params.set("size", String(size));
  return `${path}?${params.toString()}`;
}
