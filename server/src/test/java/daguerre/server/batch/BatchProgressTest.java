package daguerre.server.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The batch progress line: share done, jobs finished, and the ETA from the steps done so far. */
class BatchProgressTest {

    @Test
    void theEtaExtrapolatesTheStepsDoneToTheStepsLeft() {
        assertEquals("[------------------------------]   0%  0/4 jobs  ETA -- ", BatchProgress.line(0, 40, 0, 4, 3.0));
        // 10 of 40 steps in 5 s: 30 left at 0.5 s each
        assertEquals("[########----------------------]  25%  1/4 jobs  ETA 15s ", BatchProgress.line(10, 40, 1, 4, 5.0));
        assertEquals("[###############---------------]  50%  2/4 jobs  ETA 2m05s ", BatchProgress.line(20, 40, 2, 4, 125.0));
        assertEquals("[##############################] 100%  4/4 jobs  ETA 0s ", BatchProgress.line(40, 40, 4, 4, 9.0));
        assertEquals("[###---------------------------]  10%  0/1 jobs  ETA 2h15m ", BatchProgress.line(1, 10, 0, 1, 900.0));
    }
}
