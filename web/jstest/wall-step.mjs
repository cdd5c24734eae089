// The page reads spans on performance.now() (monotonic.js), which Node's mock timers
// leave on real time while they move Date.now with the timers they run: a test that
// mocks Date would measure the page's spans by how fast the machine runs. Imported, this
// makes performance.now follow Date.now, mocked or not, less every step of the wall
// clock a test made with stepWall: the monotonic clock moves with the timers and never
// with a step, as in a browser whose machine sets its time.
let stepped = 0;
performance.now = () => Date.now() - stepped;

/**
 * stepWall sets the wall clock ms ahead (behind, below zero) as the machine setting its
 * time does: Date.now() jumps, the timers keep the time they had left (mock.timers'
 * setTime would move them too) and none runs. Only while Date is mocked
 * (mock.timers.enable with 'Date'): the step goes with the mocked Date at its reset.
 */
export function stepWall(ms) {
  const before = Date.now;
  Date.now = () => before.call(Date) + ms;
  stepped += ms;
}
