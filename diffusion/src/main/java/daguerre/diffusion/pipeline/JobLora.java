package daguerre.diffusion.pipeline;

import daguerre.diffusion.lora.RuntimeLoras;

/**
 * A LoRA one job runs: its name and A1111 hash (for the infotext's {@code Lora hashes}) and its
 * factors with the job's weights.
 */
record JobLora(String name, String hash, RuntimeLoras.Use use) {}
