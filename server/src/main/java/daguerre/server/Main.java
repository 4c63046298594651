package daguerre.server;

/** Command-line entry point of daguerre.jar. */
public final class Main {

    private Main() {}

    public static void main(String[] args) {
        System.out.println("usage: java -jar daguerre.jar <command> [options]");
    }
}
