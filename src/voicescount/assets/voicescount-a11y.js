// Accessibility fixes for the Jupyter Book v1 theme (see voicescount/sphinxext.py).
(function () {
  "use strict";
  function fix() {
    // Sidebar: <summary> holding only the chevron icon gets a name from its section link.
    document.querySelectorAll("summary").forEach(function (s) {
      if (s.textContent.trim() || s.hasAttribute("aria-label")) return;
      var li = s.closest("li");
      var link = li ? li.querySelector(":scope > a") : null;
      var name = link ? link.textContent.trim() : "";
      s.setAttribute("aria-label", name ? "Sections of " + name : "Show sections");
    });
    // Bibliography: role="list" whose children are not list items.
    document.querySelectorAll(".citation-list[role='list']").forEach(function (l) {
      l.removeAttribute("role");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fix);
  } else {
    fix();
  }
})();
