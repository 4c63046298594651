package daguerre.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.server.cluster.ClusterOptions;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code serve}'s cluster options: the single-process default, every source, and clear refusals of combinations that cannot run. */
class ClusterOptionsTest {

    @TempDir
    Path dir;

    private ClusterOptions resolve(Map<String, String> environment, String... args) throws Exception {
        ServeCommand command = new ServeCommand(config -> {
            throw new AssertionError("no engine is made while resolving");
        }, environment);
        new CommandLine(command).parseArgs(args);
        return command.resolveCluster();
    }

    private String refusal(String... args) {
        ServeCommand command = new ServeCommand(config -> {
            throw new AssertionError("the configuration should have been refused");
        }, Map.of());
        StringWriter err = new StringWriter();
        int status = new CommandLine(command).setErr(new PrintWriter(err)).execute(args);
        assertEquals(2, status, err.toString());
        return err.toString();
    }

    @Test
    void theDefaultIsOneProcessOnSqlite() throws Exception {
        ClusterOptions options = resolve(Map.of());
        assertEquals(ClusterOptions.SINGLE, options);
        assertTrue(options.single());
        assertEquals(ClusterOptions.Role.ALL, options.role());
    }

    @Test
    void everyClusterOptionComesFromFlagsEnvironmentAndFile() throws Exception {
        ClusterOptions flags = resolve(Map.of(), "--role", "worker", "--cluster", "--cluster-host", "10.0.0.5", "--cluster-port", "5801",
                "--cluster-members", "10.0.0.6:5801,10.0.0.7:5801", "--cluster-name", "prod", "--database",
                "jdbc:postgresql://db:5432/daguerre", "--images", "/mnt/images", "--lease-seconds", "30");
        assertEquals(new ClusterOptions(ClusterOptions.Role.WORKER, true, "10.0.0.5", 5801, List.of("10.0.0.6:5801", "10.0.0.7:5801"),
                "prod", "jdbc:postgresql://db:5432/daguerre", null, null, Path.of("/mnt/images"), 30), flags);
        assertFalse(flags.single());

        ClusterOptions environment = resolve(Map.of("DAGUERRE_ROLE", "api", "DAGUERRE_CLUSTER", "true",
                "DAGUERRE_CLUSTER_MEMBERS", "a:1,b:2", "DAGUERRE_DATABASE", "jdbc:postgresql://db/d",
                "DAGUERRE_DATABASE_USER", "daguerre", "DAGUERRE_DATABASE_PASSWORD", "secret", "DAGUERRE_IMAGES", "/mnt/i",
                "DAGUERRE_LEASE_SECONDS", "5"));
        assertEquals(5, environment.leaseSeconds());
        assertEquals(ClusterOptions.Role.API, environment.role());
        assertEquals(List.of("a:1", "b:2"), environment.members());
        assertEquals("daguerre", environment.databaseUser());
        assertEquals("secret", environment.databasePassword());

        Path file = dir.resolve("cluster.properties");
        Files.writeString(file, "cluster=true\ndatabase=jdbc:postgresql://db/d\ndatabase-user=u\ndatabase-password=p\nrole=worker\nimages=/mnt/i\n"
                + "lease-seconds=20\n");
        ClusterOptions fromFile = resolve(Map.of(), "--config", file.toString());
        assertEquals(ClusterOptions.Role.WORKER, fromFile.role());
        assertEquals("u", fromFile.databaseUser());
        assertEquals("p", fromFile.databasePassword());
        assertEquals(20, fromFile.leaseSeconds());
    }

    @Test
    void combinationsThatCannotRunAreRefusedClearly() {
        assertTrue(refusal("--role", "worker").contains("--role worker needs --cluster"));
        assertTrue(refusal("--role", "api", "--cluster").contains("--role api needs --database"));
        assertTrue(refusal("--cluster").contains("--cluster needs --database"));
        assertTrue(refusal("--database", "jdbc:postgresql://db/d").contains("--database needs --cluster"));
        assertTrue(refusal("--cluster", "--database", "jdbc:mysql://db/d").contains("takes a PostgreSQL JDBC URL"));
        assertTrue(refusal("--cluster", "--database", "jdbc:postgresql://db/d").contains("--cluster needs --images"));
        assertTrue(refusal("--role", "boss").contains("takes all, api or worker"));
        assertTrue(refusal("--cluster", "--database", "jdbc:postgresql://db/d", "--images", "/i",
                "--cluster-members", "nohost").contains("HOST:PORT"));
        assertTrue(refusal("--lease-seconds", "5").contains("--lease-seconds needs --cluster"));
        String cluster = "--cluster --database jdbc:postgresql://db/d --images /i --lease-seconds ";
        assertTrue(refusal((cluster + "0").split(" ")).contains("lease-seconds (--lease-seconds, DAGUERRE_LEASE_SECONDS) must be between 1 and 3600, got 0"));
        assertTrue(refusal((cluster + "7200").split(" ")).contains("must be between 1 and 3600, got 7200"));
        assertTrue(refusal((cluster + "ten").split(" ")).contains("ten"), "not a number");
    }
}
