import { useEffect, useState } from "preact/hooks";

/** History routing under /ui/; pmhub answers every client route with index.html. */
export const BASE = "/ui/";

export type Route =
  | { page: "projects" }
  | { page: "tasks"; slug: string }
  | { page: "settings" };

export function parse(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : "";
  const parts = rest.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "projects" && parts[1]) return { page: "tasks", slug: parts[1] };
  if (parts[0] === "settings") return { page: "settings" };
  return { page: "projects" };
}

export function href(route: Route): string {
  switch (route.page) {
    case "projects":
      return BASE;
    case "tasks":
      return `${BASE}projects/${encodeURIComponent(route.slug)}`;
    case "settings":
      return `${BASE}settings`;
  }
}

export function navigate(route: Route): void {
  window.history.pushState(null, "", href(route));
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(window.location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(parse(window.location.pathname));
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  return route;
}

/** A same-origin link that routes without reloading the page. */
export function onLinkClick(route: Route) {
  return (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(route);
  };
}
