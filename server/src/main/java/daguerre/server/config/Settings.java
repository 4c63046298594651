package daguerre.server.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;

/**
 * Looks up a setting by its option name ({@code max-width}): the environment
 * ({@code DAGUERRE_MAX_WIDTH}) first, then the config file (Java properties, key {@code max-width}).
 * Flags given on the command line win over both; the caller checks them first. Every long name
 * of an option works ({@code api-key} and {@code api-keys}); a config file key or a
 * {@code DAGUERRE_*} variable that is no setting stops {@link #load} with the nearest real name.
 */
public final class Settings {

    private static final String PREFIX = "DAGUERRE_";

    private final Map<String, String> environment;
    private final Properties file;
    private final String fileName;
    private final KnownSettings known;

    private Settings(Map<String, String> environment, Properties file, String fileName, KnownSettings known) {
        this.environment = environment;
        this.file = file;
        this.fileName = fileName;
        this.known = known;
    }

    /**
     * Settings from {@code environment} and the optional properties file {@code configFile}.
     *
     * @throws IllegalArgumentException naming every file key and {@code DAGUERRE_*} variable that is not in {@code known}
     */
    public static Settings load(Map<String, String> environment, Path configFile, KnownSettings known) throws IOException {
        Properties properties = new Properties();
        if (configFile != null) {
            try (Reader reader = Files.newBufferedReader(configFile)) {
                properties.load(reader);
            }
        }
        String fileName = configFile == null ? null : configFile.toString();
        List<String> problems = new ArrayList<>();
        new TreeSet<>(properties.stringPropertyNames()).stream().filter(key -> !known.isSetting(key))
                .forEach(key -> problems.add(known.unknownKey(key, fileName)));
        new TreeSet<>(environment.keySet()).stream().filter(name -> name.startsWith(PREFIX) && !known.isVariable(name))
                .forEach(name -> problems.add(known.unknownVariable(name)));
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems));
        }
        return new Settings(environment, properties, fileName, known);
    }

    /** The environment variable of a setting: {@code max-width} → {@code DAGUERRE_MAX_WIDTH}. */
    public static String environmentName(String key) {
        return PREFIX + key.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    /** The raw value, or null when neither the environment nor the file sets it. */
    public String get(String key) {
        List<String> values = values(key);
        if (values.size() > 1) {
            throw invalid(key, "is set more than once (under " + String.join(" and ", known.aliases(key)) + ")");
        }
        return values.isEmpty() ? null : values.get(0);
    }

    /**
     * The values of all names of {@code key}'s option in the environment, or else in the file
     * (one per name that is set, stripped; blank counts as unset).
     */
    private List<String> values(String key) {
        List<String> values = new ArrayList<>();
        for (String name : known.aliases(key)) {
            String value = environment.get(environmentName(name));
            if (value != null && !value.isBlank()) {
                values.add(value.strip());
            }
        }
        if (values.isEmpty()) {
            for (String name : known.aliases(key)) {
                String value = file.getProperty(name);
                if (value != null && !value.isBlank()) {
                    values.add(value.strip());
                }
            }
        }
        return values;
    }

    /** An error about {@code key}'s value, naming where it can be set. */
    public IllegalArgumentException invalid(String key, String problem) {
        return new IllegalArgumentException("setting " + key + " (" + where(key) + ") " + problem);
    }

    public String string(String key, String flag, String fallback) {
        if (flag != null) {
            return flag;
        }
        String value = get(key);
        return value == null ? fallback : value;
    }

    public int integer(String key, Integer flag, int fallback, int min, int max) {
        long value = flag != null ? flag : parse(key, get(key), fallback, false);
        return (int) check(key, value, min, max);
    }

    /** A byte count, with an optional suffix k, m or g (powers of 1024). */
    public long bytes(String key, String flag, long fallback) {
        String text = flag != null ? flag : get(key);
        return check(key, text == null ? fallback : parse(key, text, fallback, true), 0, Long.MAX_VALUE);
    }

    /** A comma-separated list; the values of all names of the option together ({@code api-key} and {@code api-keys}). */
    public List<String> list(String key, List<String> flag) {
        if (flag != null && !flag.isEmpty()) {
            return List.copyOf(flag);
        }
        return values(key).stream().flatMap(value -> Arrays.stream(value.split(","))).map(String::strip)
                .filter(s -> !s.isEmpty()).toList();
    }

    private long parse(String key, String text, long fallback, boolean allowSuffix) {
        if (text == null) {
            return fallback;
        }
        String digits = text.strip().toLowerCase(Locale.ROOT);
        long scale = 1;
        if (allowSuffix && !digits.isEmpty()) {
            char last = digits.charAt(digits.length() - 1);
            scale = switch (last) {
                case 'k' -> 1L << 10;
                case 'm' -> 1L << 20;
                case 'g' -> 1L << 30;
                default -> 1;
            };
            if (scale > 1) {
                digits = digits.substring(0, digits.length() - 1);
            }
        }
        try {
            return Math.multiplyExact(Long.parseLong(digits), scale);
        } catch (NumberFormatException | ArithmeticException e) {
            throw invalid(key, "is not a valid number: " + text);
        }
    }

    private long check(String key, long value, long min, long max) {
        if (value < min || value > max) {
            throw invalid(key, "must be between " + min + " and " + max + ", got " + value);
        }
        return value;
    }

    private String where(String key) {
        return "--" + key + ", " + environmentName(key) + (fileName == null ? "" : " or " + fileName);
    }
}
