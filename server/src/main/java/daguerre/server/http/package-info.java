/**
 * The Vert.x HTTP service: native routes described by {@code /api/v1/openapi.json},
 * A1111-compatible routes under {@code /sdapi/v1}, the OpenAI-compatible
 * {@code /v1/images/generations}, the gallery routes, Server-Sent Events and a WebSocket relaying
 * job events from the Vert.x event bus, health and Prometheus metrics, and the {@code serve}
 * command. Handlers only validate, enqueue and stream; anything that blocks runs on worker threads.
 */
package daguerre.server.http;
