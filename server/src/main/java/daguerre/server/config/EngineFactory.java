package daguerre.server.config;

import daguerre.server.jobs.ImageEngine;

/** Makes the engine {@code serve} runs on, from the resolved configuration (its {@code models} in particular). */
@FunctionalInterface
public interface EngineFactory {

    ImageEngine create(ServeConfig config) throws Exception;
}
