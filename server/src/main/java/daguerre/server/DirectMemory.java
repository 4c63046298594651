package daguerre.server;

import com.sun.management.HotSpotDiagnosticMXBean;
import com.sun.management.VMOption;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * The JVM's direct-memory cap, where DJL keeps every model weight: {@code -XX:MaxDirectMemorySize},
 * by default the heap limit (a quarter of the machine's memory), which SDXL's float32 weights alone
 * (13.6 GB) exceed. The cap is raised to what the heap leaves of the machine's memory: a cap above
 * that would let released weights (freed only when their buffers are collected) pile up until the
 * kernel kills the process, where at the cap the JVM collects them first. {@code ./daguerre} sets
 * the same cap; so that {@code java -jar daguerre.jar} behaves the same, a JVM started without a cap
 * of its own runs the command in a second JVM that has it ({@link #runElsewhereIfCapped}).
 */
public final class DirectMemory {

    /** Set on the second JVM, so that it runs the command itself. */
    static final String RELAUNCHED = "daguerre.relaunched";
    private static final String OPTION = "MaxDirectMemorySize";

    private DirectMemory() {}

    /** The most direct memory this JVM may allocate, in bytes. */
    public static long limitBytes() {
        VMOption option = hotSpot() == null ? null : hotSpot().getVMOption(OPTION);
        long value = option == null ? 0 : Long.parseLong(option.getValue());
        return value > 0 ? value : Runtime.getRuntime().maxMemory();   // 0: the JVM's default, the heap limit
    }

    /**
     * Runs {@code args} in a second JVM with {@code -XX:MaxDirectMemorySize} = the machine's memory
     * less the heap limit when this one has only the default cap (the heap limit) and that is more; returns
     * that JVM's exit code, or empty when this JVM should run the command itself (a cap given,
     * already the second JVM, the default cap already as large, or not a HotSpot JVM on Linux).
     * Standard streams are shared, and a stop signal to this JVM is passed on to the second.
     */
    static OptionalInt runElsewhereIfCapped(String[] args) throws IOException, InterruptedException {
        HotSpotDiagnosticMXBean hotSpot = hotSpot();
        OptionalLong memory = machineMemoryBytes();
        long heap = Runtime.getRuntime().maxMemory();
        if (System.getProperty(RELAUNCHED) != null || hotSpot == null || memory.isEmpty()
                || hotSpot.getVMOption(OPTION).getOrigin() != VMOption.Origin.DEFAULT
                || memory.getAsLong() - heap <= heap) {
            return OptionalInt.empty();
        }
        long cap = memory.getAsLong() - heap;
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> command = new ArrayList<>(List.of(java));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-XX:" + OPTION + "=" + cap);   // the same -Xmx (or default heap) goes to the second JVM
        command.add("-D" + RELAUNCHED + "=" + ProcessHandle.current().pid());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.addAll(List.of(args));
        Process second = new ProcessBuilder(command).inheritIO().start();
        Thread passOnStop = new Thread(() -> {
            second.destroy();   // SIGTERM: the second JVM stops gracefully (a running job goes back to the queue)
            try {
                second.waitFor(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "daguerre-stop-second-jvm");
        Runtime.getRuntime().addShutdownHook(passOnStop);
        int code = second.waitFor();
        try {
            Runtime.getRuntime().removeShutdownHook(passOnStop);
        } catch (IllegalStateException stopping) {
            // this JVM is stopping (the hook has stopped the second one): nothing left to undo
        }
        return OptionalInt.of(code);
    }

    /**
     * In the second JVM: asks Linux to send it SIGTERM when the first one dies, however it dies (a
     * {@code kill -9} of the first would otherwise leave this one running, holding the port and the
     * data directory); exits at once if the first is already gone.
     */
    static void stopWithFirstJvm() {
        String first = System.getProperty(RELAUNCHED);
        if (first == null) {
            return;
        }
        if (LibC.INSTANCE.prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0) {
            throw new IllegalStateException("prctl(PR_SET_PDEATHSIG) failed: errno " + com.sun.jna.Native.getLastError());
        }
        long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
        if (parent != Long.parseLong(first)) {   // it died before prctl took effect
            System.exit(128 + SIGTERM);
        }
    }

    private static final int PR_SET_PDEATHSIG = 1;
    private static final int SIGTERM = 15;

    /** libc's prctl; JNA binds it by name. */
    private interface LibC extends com.sun.jna.Library {
        LibC INSTANCE = com.sun.jna.Native.load("c", LibC.class);

        int prctl(int option, long arg2, long arg3, long arg4, long arg5);
    }

    /** The machine's memory ({@code MemTotal} of /proc/meminfo), empty where it cannot be read. */
    static OptionalLong machineMemoryBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux, or an unreadable /proc: run with the JVM's own cap
        }
        return OptionalLong.empty();
    }

    private static HotSpotDiagnosticMXBean hotSpot() {
        try {
            return ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        } catch (IllegalArgumentException | UnsupportedOperationException notHotSpot) {
            return null;
        }
    }
}
