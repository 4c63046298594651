/**
 * The live event stream of all jobs over the server's WebSocket (/api/v1/ws). When the
 * connection drops (a server restart, a network change) it reconnects with a growing delay,
 * and calls onResync once it is subscribed again, so that the views can catch up on what
 * they missed.
 */
import { eventsUrl } from './api.js';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 5000;

export class EventStream {
  /**
   * @param {{onEvent: function({job_id, event, data}), onResync: function(boolean), onState: function(string)}} handlers
   *     onResync gets true after a reconnection, false on the first connection
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.retryMs = FIRST_RETRY_MS;
    this.everConnected = false;
    this.socket = null;
  }

  connect() {
    this.handlers.onState(this.everConnected ? 'reconnecting' : 'connecting');
    const socket = new WebSocket(eventsUrl());
    this.socket = socket;
    socket.addEventListener('message', (message) => {
      let envelope;
      try {
        envelope = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (envelope.event === 'subscribed') {
        const reconnected = this.everConnected;
        this.everConnected = true;
        this.retryMs = FIRST_RETRY_MS;
        this.handlers.onState('live');
        this.handlers.onResync(reconnected);
      } else if (envelope.job_id) {
        this.handlers.onEvent(envelope);
      }
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) {
        return;
      }
      this.handlers.onState(this.everConnected ? 'reconnecting' : 'connecting');
      window.setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    });
  }
}
