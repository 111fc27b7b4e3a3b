// Bloom's login page: keep the token it was handed in this origin's own storage (per port,
// unlike cookies: issue 11), then open Bloom. bloom.js sends it with every request.
"use strict";
(() => {
  const login = document.getElementById("login");
  localStorage.setItem("colony.token", login.dataset.token);
  login.removeAttribute("data-token");
  location.replace("/");
})();
