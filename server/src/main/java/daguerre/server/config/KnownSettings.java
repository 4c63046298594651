package daguerre.server.config;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The settings that the environment and a config file may give: the long option names of every
 * command that reads settings (those with the {@link ServiceOptions} mixin: {@code serve},
 * {@code batch}), taken from picocli's model, so that a setting exists exactly when its option
 * does. All long names of one option name the same setting ({@code --api-key, --api-keys}). A
 * misspelt name is answered with the nearest real one (by edit distance).
 */
public final class KnownSettings {

    /** The option naming the config file: settable by the command line and the environment, not inside the file. */
    static final String CONFIG = "config";

    /** {@code DAGUERRE_*} variables that are no setting, with what reads them. */
    private static final Map<String, String> OTHER_VARIABLES = Map.of(
            Settings.environmentName(CONFIG), "the config file, as --config",
            "DAGUERRE_JAVA_OPTS", "JVM options, read by the ./daguerre launcher");

    /** Each setting name of the command tree → all names of its option. */
    private final Map<String, List<String>> aliases;
    /** The setting names of the command itself: the ones it reads. */
    private final Set<String> own;

    private KnownSettings(Map<String, List<String>> aliases, Set<String> own) {
        this.aliases = aliases;
        this.own = own;
    }

    /**
     * The settings of {@code command} and of every other settings-reading command in its
     * command tree (a config file or environment shared by {@code serve} and {@code batch} may
     * hold the other's settings).
     */
    public static KnownSettings of(CommandSpec command) {
        Map<String, List<String>> aliases = new TreeMap<>();
        collect(command.root(), aliases);
        Map<String, List<String>> own = new TreeMap<>();
        addOptions(command, own);
        aliases.putAll(own);
        return new KnownSettings(aliases, Set.copyOf(own.keySet()));
    }

    private static void collect(CommandSpec spec, Map<String, List<String>> aliases) {
        if (spec.mixins().values().stream().anyMatch(mixin -> mixin.userObject() instanceof ServiceOptions)) {
            addOptions(spec, aliases);
        }
        for (CommandLine sub : spec.subcommands().values()) {
            collect(sub.getCommandSpec(), aliases);
        }
    }

    private static void addOptions(CommandSpec spec, Map<String, List<String>> aliases) {
        for (OptionSpec option : spec.options()) {
            if (option.usageHelp() || option.versionHelp()) {
                continue;
            }
            List<String> names = new ArrayList<>();
            for (String name : option.names()) {
                if (name.startsWith("--") && !name.equals("--" + CONFIG)) {
                    names.add(name.substring(2));
                }
            }
            for (String name : names) {
                aliases.put(name, List.copyOf(names));
            }
        }
    }

    /** Whether {@code name} ({@code max-width}) is a setting. */
    public boolean isSetting(String name) {
        return aliases.containsKey(name);
    }

    /**
     * The names of {@code name}'s option, {@code name} among them; reading a setting that is no
     * option of the command is a bug of the caller.
     */
    public List<String> aliases(String name) {
        if (!own.contains(name)) {
            throw new IllegalStateException("the command has no option --" + name + " to declare the setting " + name);
        }
        return aliases.get(name);
    }

    /** Whether {@code variable} is a setting's environment variable or one of the other {@code DAGUERRE_*} variables. */
    public boolean isVariable(String variable) {
        return OTHER_VARIABLES.containsKey(variable) || variables().containsKey(variable);
    }

    /** The error message for a config file key that is no setting. */
    String unknownKey(String key, String fileName) {
        if (key.equals(CONFIG)) {
            return "the config file " + fileName + " cannot name another config file (key \"" + key + "\")";
        }
        String nearest = nearest(key, aliases.keySet());
        return "unknown setting \"" + key + "\" in " + fileName + "; the nearest option is \"" + nearest + "\" (--" + nearest + ")";
    }

    /** The error message for a {@code DAGUERRE_*} variable that is no setting. */
    String unknownVariable(String variable) {
        Map<String, String> known = variables();
        known.putAll(OTHER_VARIABLES);
        String nearest = nearest(variable, known.keySet());
        return "unknown environment variable " + variable + "; the nearest is " + nearest + " (" + known.get(nearest) + ")";
    }

    /** Each setting's environment variable → its option, for messages. */
    private Map<String, String> variables() {
        Map<String, String> variables = new TreeMap<>();
        aliases.keySet().forEach(name -> variables.put(Settings.environmentName(name), "--" + name));
        return variables;
    }

    /** The candidate with the smallest edit distance to {@code name} (the alphabetically first of equals). */
    static String nearest(String name, Collection<String> candidates) {
        return candidates.stream().sorted()
                .min(Comparator.comparingInt((String candidate) -> editDistance(name, candidate)))
                .orElseThrow();
    }

    /** Levenshtein distance: the fewest single-character insertions, deletions and substitutions from {@code a} to {@code b}. */
    static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
