package daguerre.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The edit distance and nearest name behind "did you mean" messages. */
class KnownSettingsTest {

    @Test
    void editDistanceCountsInsertionsDeletionsAndSubstitutions() {
        assertEquals(0, KnownSettings.editDistance("port", "port"));
        assertEquals(1, KnownSettings.editDistance("api-keys", "api-key"));
        assertEquals(1, KnownSettings.editDistance("api-kee", "api-key"));
        assertEquals(2, KnownSettings.editDistance("api-kye", "api-key"));
        assertEquals(3, KnownSettings.editDistance("kitten", "sitting"));
        assertEquals(4, KnownSettings.editDistance("", "host"));
    }

    @Test
    void nearestPicksTheClosestAndTheFirstOfEquals() {
        assertEquals("api-key", KnownSettings.nearest("api-kye", List.of("api-auth", "api-keys", "api-key")));
        assertEquals("host", KnownSettings.nearest("hostname", List.of("port", "host")));
        assertEquals("a", KnownSettings.nearest("c", List.of("b", "a")));
    }
}
