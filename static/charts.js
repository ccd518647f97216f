// Reads out the figure of the chart mark under the pointer or keyboard focus; every figure is
// also in the table beside its chart and in the mark's own <title>.
(function () {
  "use strict";
  function show(event) {
    var mark = event.target.closest("[data-readout]");
    if (!mark) return;
    var readout = mark.closest("section").querySelector(".readout");
    if (readout) readout.textContent = mark.getAttribute("data-readout");
  }
  document.addEventListener("mouseover", show);
  document.addEventListener("focusin", show);
  // On a narrow screen the heatmap opens on its latest weeks, not a year ago.
  var heatmap = document.querySelector(".heatmap");
  if (heatmap) {
    var scroller = heatmap.closest(".chart-scroll");
    if (scroller) scroller.scrollLeft = scroller.scrollWidth;
  }
})();
