package daguerre.server.http;

import daguerre.server.cluster.ClusterOptions;
import daguerre.server.config.EngineFactory;
import daguerre.server.config.ServeConfig;
import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;

/** {@code serve} as a cluster node: starts a {@link ClusterServer} and runs until the process is stopped. */
final class ClusterMain {

    private ClusterMain() {}

    static int run(ServeConfig config, ClusterOptions options, EngineFactory engines, PrintWriter out) throws Exception {
        ClusterServer server = ClusterServer.start(config, options, engines);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "daguerre-shutdown"));
        out.printf("Daguerre cluster node %s (role %s) listening on http://%s:%d%n", server.nodeId(), options.role().optionName(),
                config.host(), server.port());
        out.flush();
        stopped.await();
        return 0;
    }
}
