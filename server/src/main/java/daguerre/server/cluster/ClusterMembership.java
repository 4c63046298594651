package daguerre.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * This node's place in the cluster: Vert.x clustered over Hazelcast (TCP/IP join to the given
 * members only; multicast and cloud discovery off), and what every node tells the others. Each
 * node publishes a heartbeat on {@link #NODES_ADDRESS} every second ({@code node}, {@code role},
 * {@code models}, {@code running}, and a worker's {@code slots} and measured {@code ms_per_unit}); a node is live while Hazelcast counts it a member and its
 * last heartbeat is at most {@link #STALE_MILLIS} old.
 */
public final class ClusterMembership implements AutoCloseable {

    /** Job events, as the single-process service publishes them, with the worker's node id added. */
    public static final String EVENTS_ADDRESS = "daguerre.jobs.events";
    /** Heartbeats and farewells of nodes. */
    public static final String NODES_ADDRESS = "daguerre.cluster.nodes";
    /** Cancel requests for running jobs: {@code {job_id}}, published to every worker. */
    public static final String CANCEL_ADDRESS = "daguerre.cluster.cancel";
    /** Requests that a running job finish early with its images as they stand (A1111's interrupt and skip): {@code {job_id}}. */
    public static final String FINISH_EARLY_ADDRESS = "daguerre.cluster.finish-early";
    /** A job was queued: workers waiting for work look at once instead of at their next poll. */
    public static final String QUEUED_ADDRESS = "daguerre.cluster.queued";
    static final long HEARTBEAT_MILLIS = 1000;
    static final long STALE_MILLIS = 4000;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Vertx vertx;
    private final HazelcastClusterManager manager;
    private final String nodeId;
    private final Map<String, Seen> nodes = new ConcurrentHashMap<>();
    private long heartbeatTimer = -1;

    private record Seen(JsonNode info, long at) {}

    private ClusterMembership(Vertx vertx, HazelcastClusterManager manager) {
        this.vertx = vertx;
        this.manager = manager;
        this.nodeId = manager.getNodeId();
        vertx.eventBus().<String>consumer(NODES_ADDRESS, message -> {
            JsonNode info = parse(message.body());
            String node = info.path("node").asText();
            if (info.path("leaving").asBoolean(false)) {
                nodes.remove(node);
            } else {
                nodes.put(node, new Seen(info, System.currentTimeMillis()));
            }
        });
    }

    /** Starts Vert.x clustered as {@code options} say; returns once this node has joined. */
    public static ClusterMembership join(ClusterOptions options) throws Exception {
        Config hazelcast = ConfigUtil.loadConfig();
        hazelcast.setClusterName(options.name());
        hazelcast.setProperty("hazelcast.phone.home.enabled", "false");
        hazelcast.setProperty("hazelcast.logging.type", "slf4j");
        hazelcast.setProperty("hazelcast.socket.bind.any", "false");
        hazelcast.setProperty("hazelcast.local.localAddress", options.host());
        // a killed member is noticed in seconds, not the default minute
        hazelcast.setProperty("hazelcast.heartbeat.interval.seconds", "1");
        hazelcast.setProperty("hazelcast.max.no.heartbeat.seconds", "6");
        hazelcast.setProperty("hazelcast.shutdownhook.enabled", "false");
        hazelcast.getNetworkConfig().setPort(options.port()).setPortAutoIncrement(false);
        hazelcast.getNetworkConfig().getInterfaces().setEnabled(true).setInterfaces(List.of(options.host()));
        JoinConfig join = hazelcast.getNetworkConfig().getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).setMembers(new ArrayList<>(options.members()));
        HazelcastClusterManager manager = new HazelcastClusterManager(hazelcast);
        VertxOptions vertxOptions = new VertxOptions();
        vertxOptions.getEventBusOptions().setHost(options.host()).setPort(0).setClusterPublicHost(options.host());
        Vertx vertx = Vertx.builder().with(vertxOptions).withClusterManager(manager).buildClustered()
                .toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
        return new ClusterMembership(vertx, manager);
    }

    /** Publishes this node's heartbeat now and every second from {@code info} (called on the event loop; must not block). */
    public void startHeartbeat(Supplier<ObjectNode> info) {
        Runnable beat = () -> {
            ObjectNode body = info.get().put("node", nodeId);
            vertx.eventBus().publish(NODES_ADDRESS, body.toString());
        };
        beat.run();
        heartbeatTimer = vertx.setPeriodic(HEARTBEAT_MILLIS, t -> beat.run());
    }

    public Vertx vertx() {
        return vertx;
    }

    /** Publishes a job event to every node: {@code {job_id, event, data}}, with the {@code worker} that runs it when not null. */
    public void publishJobEvent(String jobId, String event, ObjectNode data, String worker) {
        ObjectNode envelope = JSON.createObjectNode().put("job_id", jobId).put("event", event);
        if (worker != null) {
            envelope.put("worker", worker);
        }
        envelope.set("data", data);
        vertx.eventBus().publish(EVENTS_ADDRESS, envelope.toString());
    }

    /** This node's id: its Hazelcast member id, which the log prints at start. */
    public String nodeId() {
        return nodeId;
    }

    /** The live nodes' latest heartbeats, by node id. */
    public Map<String, JsonNode> liveNodes() {
        long now = System.currentTimeMillis();
        List<String> members = manager.getNodes();
        Map<String, JsonNode> live = new java.util.TreeMap<>();
        nodes.forEach((id, seen) -> {
            if (now - seen.at() <= STALE_MILLIS && members.contains(id)) {
                live.put(id, seen.info());
            }
        });
        return live;
    }

    /** Whether some live worker serves {@code model}. */
    public boolean served(String model) {
        return liveNodes().values().stream().anyMatch(n -> {
            for (JsonNode m : n.path("models")) {
                if (m.asText().equals(model)) {
                    return true;
                }
            }
            return false;
        });
    }

    /** {@code GET /api/v1/cluster}: this node, the Hazelcast members and the live nodes with their roles, models and jobs. */
    public ObjectNode view() {
        ObjectNode body = JSON.createObjectNode().put("node", nodeId);
        ArrayNode members = body.putArray("members");
        manager.getNodes().forEach(members::add);
        ArrayNode items = body.putArray("nodes");
        liveNodes().forEach((id, info) -> items.add(info.deepCopy()));
        return body;
    }

    /** Tells the others this node leaves, and leaves the cluster. */
    @Override
    public void close() {
        if (heartbeatTimer >= 0) {
            vertx.cancelTimer(heartbeatTimer);
        }
        try {
            vertx.eventBus().publish(NODES_ADDRESS, JSON.createObjectNode().put("node", nodeId).put("leaving", true).toString());
            vertx.close().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            org.slf4j.LoggerFactory.getLogger(ClusterMembership.class).warn("leaving the cluster did not finish cleanly", e);
        }
    }

    public static JsonNode parse(String text) {
        try {
            return JSON.readTree(text);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("malformed cluster message: " + text, e);
        }
    }
}
