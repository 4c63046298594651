package daguerre.server.jobs;

/**
 * One sampler an engine supports.
 *
 * @param name the API name ({@code euler_a}), used by the native and OpenAI-compatible routes
 * @param a1111Name the name A1111 uses ({@code Euler a}), used by the A1111-compatible routes
 */
public record SamplerDescriptor(String name, String a1111Name) {}
