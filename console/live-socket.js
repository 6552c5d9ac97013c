// The live WebSocket (`/events/`, wire doc §4): authenticates with the tab's token in the first
// message, answers pings, and reconnects by itself (after 1 s, backing off to 5 s) while telling
// the page it is offline. After a reconnect the page re-reads the REST list for what it missed.

export class LiveSocket {
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.delay = 1000;
    this.stopped = false;
    this.everOpen = false;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/events/`);
    this.socket = socket;
    this.handlers.status?.('connecting');
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: 'auth', data: { token: this.token, msg_groups: { ws_events: true } } }));
      this.delay = 1000;
      const again = this.everOpen;
      this.everOpen = true;
      this.handlers.status?.('live');
      if (again) this.handlers.resync?.();
    };
    socket.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      switch (frame.type) {
        case 'ping':
          socket.send(JSON.stringify({ type: 'pong', data: frame.data }));
          break;
        case 'token_invalid':
          this.stop();
          this.handlers.tokenInvalid?.();
          break;
        case 'event_created':
          this.handlers.created?.(frame.data);
          break;
        case 'event_updated':
          this.handlers.updated?.(frame.data);
          break;
        case 'events_acknowledged':
          this.handlers.acknowledged?.(frame.data);
          break;
      }
    };
    socket.onclose = () => {
      if (this.stopped) return;
      this.handlers.status?.('offline', this.delay);
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }

  stop() {
    this.stopped = true;
    this.socket?.close();
  }
}
