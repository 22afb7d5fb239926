export type Route =
  | { name: 'overview' }
  | { name: 'feed'; feed: string }
  | { name: 'alerts'; alert?: number }
  | { name: 'edit'; feed: string | null }
  | { name: 'settings' };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  const decode = (s: string | undefined) => {
    try {
      return decodeURIComponent(s ?? '');
    } catch {
      return s ?? '';
    }
  };
  switch (parts[0]) {
    case 'feed':
      return parts[1] ? { name: 'feed', feed: decode(parts[1]) } : { name: 'overview' };
    case 'alerts': {
      const id = Number(parts[1]);
      return parts[1] && Number.isInteger(id) && id > 0 ? { name: 'alerts', alert: id } : { name: 'alerts' };
    }
    case 'new':
      return { name: 'edit', feed: null };
    case 'settings':
      return { name: 'settings' };
    case 'edit':
      return { name: 'edit', feed: parts[1] ? decode(parts[1]) : null };
    default:
      return { name: 'overview' };
  }
}

export function href(route: Route): string {
  switch (route.name) {
    case 'overview':
      return '#/';
    case 'feed':
      return `#/feed/${encodeURIComponent(route.feed)}`;
    case 'alerts':
      return route.alert === undefined ? '#/alerts' : `#/alerts/${route.alert}`;
    case 'edit':
      return route.feed === null ? '#/new' : `#/edit/${encodeURIComponent(route.feed)}`;
    case 'settings':
      return '#/settings';
  }
}

class Router {
  route = $state.raw<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));
  start(): void {
    window.addEventListener('hashchange', () => {
      this.route = parseHash(location.hash);
    });
  }
  go(route: Route): void {
    location.hash = href(route);
  }
}

export const router = new Router();
