// The frame clock of background blur (blur.js), in a worker because a page's own
// timers are throttled while its tab is in the background and the camera picture
// must keep going. It only ticks: {fps} starts it, terminate() stops it.
let timer = 0;
self.addEventListener('message', (event) => {
  const fps = Math.min(30, Math.max(1, Number(event.data && event.data.fps) || 15));
  clearInterval(timer);
  timer = setInterval(() => self.postMessage(0), Math.round(1000 / fps));
});
