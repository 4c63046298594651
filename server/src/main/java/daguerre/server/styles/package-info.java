/**
 * Prompt styles as AUTOMATIC1111 keeps them: named prompt and negative-prompt snippets in
 * {@code styles.csv} of the data directory, applied to a prompt by A1111's {@code {prompt}} rule.
 */
package daguerre.server.styles;
