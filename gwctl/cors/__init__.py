"""What ASP.NET Core's CORS middleware and browsers do with origins (`origins`)."""
