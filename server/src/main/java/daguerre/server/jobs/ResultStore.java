package daguerre.server.jobs;

import java.util.List;

/** Where a worker puts the images of a finished job (the gallery); returns their ids. */
@FunctionalInterface
public interface ResultStore {

    List<String> save(String jobId, GenerationParams params, EngineResult result) throws Exception;
}
