/**
 * Batch prompt files (A1111 "prompts from file" lines, JSON Lines, plain prompts): the parser,
 * the batch table, the service that queues one job per good line, and the {@code batch} command.
 */
package daguerre.server.batch;
