// Keyboard shortcuts for the study screen. Every control is a real link or form button, so
// each shortcut only clicks what a mouse would; without this file the page still works.
(function () {
  "use strict";

  function typingIn(element) {
    return element.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function control(key) {
    var found = document.querySelector('#study [data-key="' + key + '"]');
    return found && !found.closest("[hidden]") ? found : null;
  }

  // The answer is already on the page: show it at once instead of asking the server.
  function reveal(link) {
    var side = document.querySelector("#study .answer-side");
    if (!side) return false;
    side.hidden = false;
    link.hidden = true;
    var good = control("3");
    if (good) good.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('#study [data-key="show"]');
    if (link && reveal(link)) event.preventDefault();
  });

  // Shortcut hints are shown only where shortcuts work.
  document.documentElement.classList.add("js");

  document.addEventListener("keydown", function (event) {
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    var study = document.getElementById("study");
    if (!study || typingIn(event.target)) return;
    // Until htmx has wired the swapped-in controls, a click would be a full page load.
    if (/htmx-(request|swapping|settling)/.test(study.className)) {
      event.preventDefault();
      return;
    }

    var onControl = event.target.closest("button, a") !== null;
    var target = null;
    if (event.key === " " || event.key === "Enter") {
      var show = control("show");
      if (show && (event.key === " " || !onControl || event.target === show)) {
        target = show;
      } else if (!onControl) {
        target = control("3");
      }
    } else if (["1", "2", "3", "4"].indexOf(event.key) !== -1) {
      target = control(event.key);
    } else if (event.key === "u" || event.key === "U") {
      target = control("u");
    } else if (event.key === "e" || event.key === "E") {
      target = control("e");
    }
    if (target) {
      event.preventDefault();
      target.click();
    }
  });
})();
